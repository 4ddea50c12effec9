"""Tools for bot trainers: the NLU inbox, the quality report and the data lint (issue 7)."""
