/*
 * dealerbot chat widget: one <script> tag on the dealer's site (docs/web.md).
 *
 *   <script src="https://BOT-HOST/static/widget.js" data-server="https://BOT-HOST"
 *           data-dealer="autohuis-demo" defer></script>
 *
 * Talks to Rasa's socketio channel (socket.io protocol 5, python-socketio 5). Keeps the session
 * id and the messages in localStorage, so a reload continues the same conversation. Every text
 * from the bot or the customer is put in the page as text (textContent), never as HTML.
 */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || window.__dealerbotWidget) return;
  window.__dealerbotWidget = true;

  var base = script.src.replace(/[^/]*$/, "");
  var server = (script.dataset.server || "").replace(/\/$/, "");
  var dealer = script.dataset.dealer || "";
  var pageLang = (script.dataset.language || document.documentElement.lang || "nl").slice(0, 2);
  var key = "dealerbot:" + dealer + ":";
  var MAX_HISTORY = 300;
  var TEXT = {
    nl: { open: "Chat met ons", close: "Sluiten", placeholder: "Typ uw bericht…",
          send: "Versturen", offline: "De chat is even niet bereikbaar. Probeer het later opnieuw.",
          refused: "De chat is niet beschikbaar op deze website.",
          rate_limited: "U stuurt veel berichten kort na elkaar. Wacht even en probeer het opnieuw.",
          message_too_long: "Dit bericht is te lang. Kunt u het korter schrijven?" },
    en: { open: "Chat with us", close: "Close", placeholder: "Type your message…",
          send: "Send", offline: "The chat cannot be reached right now. Please try again later.",
          refused: "The chat is not available on this website.",
          rate_limited: "You are sending many messages in a short time. Please wait a moment and try again.",
          message_too_long: "This message is too long. Could you make it shorter?" }
  };
  var t = TEXT[pageLang] || TEXT.nl;

  function load(name, fallback) {
    try {
      var value = window.localStorage.getItem(key + name);
      return value === null ? fallback : JSON.parse(value);
    } catch (e) {
      return fallback;
    }
  }
  function save(name, value) {
    try {
      window.localStorage.setItem(key + name, JSON.stringify(value));
    } catch (e) { /* private mode or full: the chat still works, only without the memory */ }
  }

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function addStylesheet() {
    var link = document.createElement("link");
    link.rel = "stylesheet";
    link.href = base + "widget.css";
    document.head.appendChild(link);
  }

  function loadSocketIo(done) {
    if (window.io) return done();
    var tag = document.createElement("script");
    tag.src = base + "socket.io.min.js";
    tag.onload = function () { done(); };
    tag.onerror = function () { done(new Error("socket.io client did not load")); };
    document.head.appendChild(tag);
  }

  // --- the page elements ---------------------------------------------------------------
  var root = el("div", "dbw");
  root.setAttribute("data-dealerbot", dealer);
  var launcher = el("button", "dbw-launcher", t.open);
  launcher.type = "button";
  launcher.setAttribute("aria-expanded", "false");
  var panel = el("section", "dbw-panel");
  panel.setAttribute("role", "dialog");
  panel.setAttribute("aria-label", t.open);
  panel.hidden = true;
  var header = el("header", "dbw-header");
  var title = el("span", "dbw-title", "");
  var closeButton = el("button", "dbw-close", "×");
  closeButton.type = "button";
  closeButton.setAttribute("aria-label", t.close);
  header.appendChild(title);
  header.appendChild(closeButton);
  var log = el("div", "dbw-messages");
  log.setAttribute("role", "log");
  log.setAttribute("aria-live", "polite");
  var replies = el("div", "dbw-quick-replies");
  var form = el("form", "dbw-form");
  var input = el("input", "dbw-input");
  input.type = "text";
  input.name = "message";
  input.autocomplete = "off";
  input.maxLength = 1000;
  input.placeholder = t.placeholder;
  input.setAttribute("aria-label", t.placeholder);
  var send = el("button", "dbw-send", t.send);
  send.type = "submit";
  form.appendChild(input);
  form.appendChild(send);
  panel.appendChild(header);
  panel.appendChild(log);
  panel.appendChild(replies);
  panel.appendChild(form);
  root.appendChild(panel);
  root.appendChild(launcher);

  // --- state ---------------------------------------------------------------------------
  var history = load("history", []);
  var sessionId = load("session", null);
  var socket = null;
  var config = null;

  function scrollDown() { log.scrollTop = log.scrollHeight; }

  function renderMessage(message) {
    var bubble = el("div", "dbw-msg dbw-" + message.from);
    if (message.text) bubble.appendChild(el("div", "dbw-text", message.text));
    if (message.image) {
      var img = el("img", "dbw-image");
      img.alt = "";
      img.src = message.image;
      bubble.appendChild(img);
    }
    log.appendChild(bubble);
  }

  function showQuickReplies(buttons) {
    replies.textContent = "";
    (buttons || []).forEach(function (button) {
      var chip = el("button", "dbw-reply", button.title);
      chip.type = "button";
      chip.addEventListener("click", function () { sendMessage(button.payload, button.title); });
      replies.appendChild(chip);
    });
  }

  function remember(message) {
    history.push(message);
    if (history.length > MAX_HISTORY) history = history.slice(-MAX_HISTORY);
    save("history", history);
  }

  function addMessage(message) {
    remember(message);
    renderMessage(message);
    scrollDown();
  }

  function greet() {
    if (history.length || !config) return;
    var greeting = config.greeting[pageLang] || config.greeting[config.language];
    if (!greeting) return;
    addMessage({ from: "bot", text: greeting.text, buttons: greeting.buttons });
    showQuickReplies(greeting.buttons);
  }

  function notice(text) {
    var node = el("div", "dbw-notice", text);
    log.appendChild(node);
    scrollDown();
  }

  function setOpen(open) {
    panel.hidden = !open;
    root.classList.toggle("dbw-open", open);
    launcher.setAttribute("aria-expanded", String(open));
    save("open", open);
    if (open) {
      greet();
      connect();
      scrollDown();
      input.focus();
    }
  }

  function sendMessage(payload, shown) {
    var text = String(payload || "").trim();
    if (!text || !socket) return;
    showQuickReplies([]);
    addMessage({ from: "user", text: shown || text });
    var metadata = { dealer: dealer };
    if (TEXT[pageLang]) metadata.language = pageLang;
    socket.emit("user_uttered", { message: text, session_id: sessionId, metadata: metadata });
    root.classList.add("dbw-waiting");
  }

  function onBotMessage(data) {
    root.classList.remove("dbw-waiting");
    var buttons = (data.quick_replies || data.buttons || []).map(function (b) {
      return { title: String(b.title), payload: String(b.payload) };
    });
    var message = { from: "bot", text: data.text || "", buttons: buttons };
    if (data.attachment && data.attachment.type === "image" && data.attachment.payload) {
      var src = String(data.attachment.payload.src || "");
      if (/^https:\/\//.test(src)) message.image = src;
    }
    if (!message.text && !message.image) return;
    addMessage(message);
    showQuickReplies(buttons);
  }

  function connect() {
    if (socket || !window.io) return;
    socket = window.io(server, { transports: ["websocket"], reconnectionAttempts: 10 });
    socket.on("connect", function () {
      socket.emit("session_request", { session_id: sessionId });
    });
    socket.on("session_confirm", function (id) {
      sessionId = typeof id === "string" ? id : (id && id.session_id) || sessionId;
      save("session", sessionId);
      root.setAttribute("data-session", sessionId);
      root.classList.add("dbw-ready");
    });
    socket.on("bot_uttered", onBotMessage);
    socket.on("refused", function (why) {
      var code = why && why.code;
      notice(code === "rate_limited" || code === "message_too_long" ? t[code] : t.refused);
    });
    socket.on("connect_error", function () {
      root.classList.remove("dbw-ready");
      if (!root.classList.contains("dbw-offline")) notice(t.offline);
      root.classList.add("dbw-offline");
    });
  }

  launcher.addEventListener("click", function () { setOpen(panel.hidden); });
  closeButton.addEventListener("click", function () { setOpen(false); });
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = input.value;
    input.value = "";
    sendMessage(text);
  });

  function start(error) {
    if (error) return console.error("dealerbot widget:", error.message);
    fetch(server + "/webhooks/socketio/widget/" + encodeURIComponent(dealer), {
      credentials: "omit"
    }).then(function (res) {
      if (!res.ok) throw new Error("the chat server refused this site (" + res.status + ")");
      return res.json();
    }).then(function (data) {
      config = data;
      title.textContent = data.name;
      launcher.textContent = t.open;
      document.body.appendChild(root);
      history.forEach(renderMessage);
      var last = history[history.length - 1];
      if (last && last.from === "bot") showQuickReplies(last.buttons);
      if (load("open", false)) setOpen(true);
    }).catch(function (err) {
      console.error("dealerbot widget:", err.message);
    });
  }

  addStylesheet();
  loadSocketIo(start);
})();
