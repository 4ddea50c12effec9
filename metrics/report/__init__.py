"""The weekly dealer summary: rendering (text, HTML, Markdown, chart, CSV) and delivery."""
