/*
 * dealerbot chat widget: one <script> tag on the dealer's site (docs/web.md).
 *
 *   <script src="https://BOT-HOST/static/widget.js" data-server="https://BOT-HOST"
 *           data-dealer="autohuis-demo" defer></script>
 *
 * Talks to Rasa's socketio channel (socket.io protocol 5). socket.io-client is loaded only when
 * the chat is first opened. Messages go through an outbox kept in localStorage: each has an id,
 * is re-sent after a reconnect until the server acknowledges it, and the server drops an id it
 * has seen. The server issues the session and a signed resume token (kept in localStorage, never
 * in the page). Every text from the bot or the customer is put in the page as text.
 */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || window.__dealerbotWidget) return;
  window.__dealerbotWidget = true;

  var base = script.src.replace(/[^/?#]*([?#].*)?$/, "");
  var server = (script.dataset.server || "").replace(/\/$/, "");
  var dealer = script.dataset.dealer || "";
  var tokenUrl = script.dataset.tokenUrl || "";
  var keepMs = (parseFloat(script.dataset.keepHours) || 24) * 3600 * 1000;
  var key = "dealerbot:" + dealer + ":";
  var MAX_HISTORY = 300;
  var TYPING_TIMEOUT_MS = 30000; // no reply by then: stop showing the dots
  var TEXT = {
    nl: { open: "Chat met ons", close: "Chat sluiten", placeholder: "Typ uw bericht…",
          send: "Versturen", restart: "Nieuw gesprek",
          bot: "U chat met een automatische assistent.", privacy: "Privacyverklaring",
          other: "English", reconnecting: "Verbinding herstellen… Uw berichten worden verstuurd zodra de chat weer bereikbaar is.",
          offline: "De chat is even niet bereikbaar. Uw berichten worden verstuurd zodra hij terug is.",
          refused: "De chat is niet beschikbaar op deze website.",
          rate_limited: "U stuurt veel berichten kort na elkaar. Even geduld, ze worden zo verstuurd.",
          message_too_long: "Dit bericht is te lang. Kunt u het korter schrijven?",
          erased: "Dit gesprek is van dit apparaat gewist.", typing: "De assistent typt…" },
    en: { open: "Chat with us", close: "Close chat", placeholder: "Type your message…",
          send: "Send", restart: "New conversation",
          bot: "You are chatting with an automated assistant.", privacy: "Privacy statement",
          other: "Nederlands", reconnecting: "Reconnecting… Your messages will be sent as soon as the chat is back.",
          offline: "The chat cannot be reached right now. Your messages will be sent as soon as it is back.",
          refused: "The chat is not available on this website.",
          rate_limited: "You are sending many messages in a short time. Hold on, they will be sent shortly.",
          message_too_long: "This message is too long. Could you make it shorter?",
          erased: "This conversation has been erased from this device.", typing: "The assistant is typing…" }
  };
  function supported(lang) { return lang === "nl" || lang === "en" ? lang : null; }
  var browserLang = supported((navigator.language || "").slice(0, 2).toLowerCase()) ||
    ((navigator.language || "nl").slice(0, 2).toLowerCase() === "nl" ? "nl" : "en");
  var pageLang = supported((script.dataset.language || "").slice(0, 2));

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
  function forget() {
    ["history", "token", "outbox", "lang", "open", "seen"].forEach(function (name) {
      try { window.localStorage.removeItem(key + name); } catch (e) { /* nothing kept */ }
    });
  }
  // A conversation left alone for longer than data-keep-hours (24) is not kept on the device.
  if (Date.now() - load("seen", 0) > keepMs) forget();

  var lang = supported(load("lang", null)) || pageLang || browserLang;
  function t(name) { return TEXT[lang][name]; }

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }
  function button(className, text) {
    var node = el("button", className, text);
    node.type = "button";
    return node;
  }

  function addScript(src, done) {
    var tag = document.createElement("script");
    tag.src = src;
    tag.onload = function () { done(); };
    tag.onerror = function () { done(new Error(src + " did not load")); };
    document.head.appendChild(tag);
  }

  // --- the page elements ---------------------------------------------------------------
  var root = el("div", "dbw");
  root.setAttribute("data-dealerbot", dealer);
  var launcher = button("dbw-launcher");
  launcher.setAttribute("aria-expanded", "false");
  var panel = el("section", "dbw-panel");
  panel.setAttribute("role", "dialog");
  panel.hidden = true;
  var header = el("header", "dbw-header");
  var title = el("span", "dbw-title", "");
  var restartButton = button("dbw-restart");
  var closeButton = button("dbw-close", "×");
  header.appendChild(title);
  header.appendChild(restartButton);
  header.appendChild(closeButton);
  // The log is not a live region itself: a re-rendered history would be read out again. Each
  // new message is announced once through the status region below.
  var log = el("div", "dbw-messages");
  log.setAttribute("role", "log");
  log.setAttribute("aria-live", "off");
  log.tabIndex = 0;
  var thread = el("div", "dbw-thread");
  var typing = el("div", "dbw-typing");
  typing.appendChild(el("span", "dbw-dot"));
  typing.appendChild(el("span", "dbw-dot"));
  typing.appendChild(el("span", "dbw-dot"));
  typing.hidden = true;
  var replies = el("div", "dbw-quick-replies");
  log.appendChild(thread);
  log.appendChild(typing);
  log.appendChild(replies);
  var status = el("div", "dbw-status");
  status.setAttribute("role", "status");
  status.hidden = true;
  var announcer = el("div", "dbw-sr");
  announcer.setAttribute("aria-live", "polite");
  var form = el("form", "dbw-form");
  var input = el("input", "dbw-input");
  input.type = "text";
  input.name = "message";
  input.autocomplete = "off";
  input.maxLength = 1000;
  var send = el("button", "dbw-send");
  send.type = "submit";
  form.appendChild(input);
  form.appendChild(send);
  panel.appendChild(header);
  panel.appendChild(log);
  panel.appendChild(status);
  panel.appendChild(form);
  panel.appendChild(announcer);
  root.appendChild(panel);
  root.appendChild(launcher);

  function applyLanguage() {
    root.setAttribute("lang", lang);
    launcher.textContent = t("open");
    panel.setAttribute("aria-label", t("open"));
    closeButton.setAttribute("aria-label", t("close"));
    closeButton.title = t("close");
    restartButton.textContent = "↺";
    restartButton.setAttribute("aria-label", t("restart"));
    restartButton.title = t("restart");
    input.placeholder = t("placeholder");
    input.setAttribute("aria-label", t("placeholder"));
    send.textContent = t("send");
    typing.setAttribute("aria-label", t("typing"));
    if (root.classList.contains("dbw-reconnecting")) status.textContent = t("reconnecting");
  }
  function setLanguage(next) {
    if (!supported(next) || next === lang) return;
    lang = next;
    save("lang", lang);
    applyLanguage();
  }

  // --- state ---------------------------------------------------------------------------
  var history = load("history", []);
  var outbox = load("outbox", []); // messages not yet acknowledged by the server, in order
  var sessionToken = load("token", null);
  var socket = null;
  var ready = false; // connected and the session confirmed
  var inFlight = null; // the outbox entry sent and not yet acknowledged
  var typingTimer = null;
  var retryTimer = null;
  var config = null;
  var got = {}; // "<message id>:<seq>" of the replies shown, so a replayed one is not shown twice
  history.forEach(function (m) { if (m.key) got[m.key] = true; });

  function touch() { save("seen", Date.now()); }

  // Show the whole last bot message and its buttons; if they are taller than the log, show the
  // top of that message rather than cutting off its first lines.
  function scrollDown() {
    var end = log.scrollHeight - log.clientHeight;
    var last = thread.lastElementChild;
    var target = end;
    if (last && last.classList.contains("dbw-bot") && typing.hidden) {
      target = Math.min(end, Math.max(0, last.offsetTop - 8));
    }
    log.scrollTop = target;
  }

  function renderMessage(message) {
    var bubble = el("div", "dbw-msg dbw-" + message.from);
    if (message.text) bubble.appendChild(el("div", "dbw-text", message.text));
    if (message.image) {
      var img = el("img", "dbw-image");
      img.alt = "";
      img.src = message.image;
      bubble.appendChild(img);
    }
    if (message.disclosure) {
      var note = el("div", "dbw-disclosure", TEXT[message.lang || lang].bot + " ");
      if (config && /^https:\/\//.test(config.privacy_url || "")) {
        var link = el("a", "dbw-privacy", TEXT[message.lang || lang].privacy);
        link.href = config.privacy_url;
        link.target = "_blank";
        link.rel = "noopener noreferrer";
        note.appendChild(link);
      }
      bubble.appendChild(note);
    }
    thread.appendChild(bubble);
    return bubble;
  }

  // One announcement per message: each new bot message or notice is added once to the polite
  // region (the customer's own messages are not read back); old entries are dropped.
  function announce(text) {
    if (!text) return;
    announcer.appendChild(el("div", null, text));
    while (announcer.childNodes.length > 3) announcer.removeChild(announcer.firstChild);
  }

  function showQuickReplies(buttons) {
    replies.textContent = "";
    // The chips land under a mouse that just clicked: no hover fill until it moves.
    replies.classList.add("dbw-fresh");
    (buttons || []).forEach(function (b) {
      var chip = button("dbw-reply", b.title);
      chip.addEventListener("click", function () {
        if (b.local === "language") {
          setLanguage(b.payload);
          showGreeting(true);
        } else {
          sendMessage(b.payload, b.title);
        }
        input.focus();
      });
      replies.appendChild(chip);
    });
  }
  replies.addEventListener("pointermove", function () { replies.classList.remove("dbw-fresh"); });

  function remember(message) {
    history.push(message);
    if (history.length > MAX_HISTORY) history = history.slice(-MAX_HISTORY);
    save("history", history);
    touch();
  }

  function addMessage(message) {
    remember(message);
    renderMessage(message);
    if (message.from === "bot") announce(message.text);
    scrollDown();
  }

  function greetingMessage() {
    var greeting = config.greeting[lang] || config.greeting[config.language];
    var buttons = greeting.buttons.slice();
    // A visitor whose browser is not Dutch is offered both languages.
    if (browserLang !== "nl" || lang !== config.language) {
      var other = lang === "nl" ? "en" : "nl";
      buttons.push({ title: TEXT[lang].other, payload: other, local: "language" });
    }
    return { from: "bot", text: greeting.text, buttons: buttons, disclosure: true, lang: lang,
             greeting: true };
  }

  function showGreeting(replace) {
    if (!config) return;
    if (replace && history.length === 1 && history[0].greeting) {
      history = [];
      thread.textContent = "";
    }
    if (history.length) return;
    var message = greetingMessage();
    addMessage(message);
    showQuickReplies(message.buttons);
  }

  function setTyping(on) {
    window.clearTimeout(typingTimer);
    typing.hidden = !on;
    root.classList.toggle("dbw-waiting", on);
    if (on) {
      typingTimer = window.setTimeout(function () { setTyping(false); }, TYPING_TIMEOUT_MS);
      scrollDown();
    }
  }

  function setStatus(text) {
    status.textContent = text || "";
    status.hidden = !text;
  }

  function setOpen(open) {
    panel.hidden = !open;
    root.classList.toggle("dbw-open", open);
    launcher.setAttribute("aria-expanded", String(open));
    save("open", open);
    if (open) {
      showGreeting(false);
      connect();
      scrollDown();
      input.focus();
    } else {
      launcher.focus();
    }
  }

  function newId() {
    var bytes = new Uint8Array(12);
    window.crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }

  function sendMessage(payload, shown) {
    var text = String(payload || "").trim();
    if (!text) return;
    showQuickReplies([]);
    addMessage({ from: "user", text: shown || text });
    outbox.push({ id: newId(), text: text, lang: lang });
    save("outbox", outbox);
    connect();
    flush();
  }

  // Send the oldest unacknowledged message; the next one goes when the server has handled it,
  // so the bot sees them in order and its replies come in order.
  function flush() {
    if (!ready || inFlight || !outbox.length) return;
    var entry = outbox[0];
    inFlight = entry;
    var sentOn = socket;
    var metadata = { dealer: dealer, language: entry.lang };
    setTyping(true);
    socket.emit("user_uttered", { message: entry.text, message_id: entry.id,
                                  session_id: sessionId(), metadata: metadata },
      function (ack) {
        if (sentOn !== socket || inFlight !== entry) return; // a reconnect re-sends it
        inFlight = null;
        var code = ack && ack.code;
        if (code === "rate_limited") {
          notice(t("rate_limited"));
          retryTimer = window.setTimeout(flush, Math.max(1, ack.retry_after_s || 1) * 1000);
          return;
        }
        if (code === "no_session") { ready = false; requestSession(); return; }
        outbox.shift();
        save("outbox", outbox);
        if (code === "message_too_long") notice(t("message_too_long"));
        else if (code) notice(t("refused"));
        if (ack && supported(ack.language)) setLanguage(ack.language);
        // A re-sent message the server had handled: its replies, some maybe lost with the
        // connection, come with the acknowledgement.
        ((ack && ack.replies) || []).forEach(onBotMessage);
        if (!outbox.length) setTyping(false);
        flush();
      });
  }

  function sessionId() { return sessionToken ? sessionToken.split(".")[0] : null; }

  function onBotMessage(data) {
    var replyKey = data && data.reply_to ? data.reply_to + ":" + data.seq : null;
    if (replyKey && got[replyKey]) return;
    if (replyKey) got[replyKey] = true;
    if (data && data.custom && data.custom.dealerbot === "erased") {
      // The bot erased this customer's data: erase the copy on this device too, and show only
      // its confirmation (not kept).
      var confirmation = history.length ? history[history.length - 1] : null;
      forget();
      history = [];
      outbox = [];
      sessionToken = null;
      thread.textContent = "";
      if (confirmation && confirmation.from === "bot") renderMessage({ from: "bot", text: confirmation.text });
      notice(t("erased"));
      showQuickReplies([]);
      return;
    }
    var buttons = (data.quick_replies || data.buttons || []).map(function (b) {
      return { title: String(b.title), payload: String(b.payload) };
    });
    var message = { from: "bot", text: data.text || "", buttons: buttons };
    if (replyKey) message.key = replyKey;
    if (data.attachment && data.attachment.type === "image" && data.attachment.payload) {
      var src = String(data.attachment.payload.src || "");
      if (/^https:\/\//.test(src)) message.image = src;
    }
    if (!message.text && !message.image) return;
    addMessage(message);
    showQuickReplies(buttons);
    scrollDown();
    if (outbox.length) setTyping(true);
  }

  function notice(text) {
    var node = el("div", "dbw-notice", text);
    thread.appendChild(node);
    announce(text);
    scrollDown();
  }

  function requestSession() {
    socket.emit("session_request", { session_token: sessionToken });
  }

  function getToken(done) {
    if (!tokenUrl) return done({});
    fetch(tokenUrl, { credentials: "same-origin", cache: "no-store" })
      .then(function (res) { return res.ok ? res.json() : {}; })
      .then(function (data) { done({ token: data.token }); })
      .catch(function () { done({}); });
  }

  function connect() {
    if (socket) return;
    if (!window.io) {
      if (connect.loading) return;
      connect.loading = true;
      addScript(base + "socket.io.min.js", function (error) {
        connect.loading = false;
        if (error) return setStatus(t("offline"));
        connect();
      });
      return;
    }
    socket = window.io(server, {
      transports: ["websocket"],
      reconnectionDelayMax: 10000, // keeps trying; the customer sees "reconnecting"
      auth: function (cb) { getToken(cb); }
    });
    socket.on("connect", function () {
      setStatus("");
      root.classList.remove("dbw-reconnecting");
      requestSession();
    });
    socket.on("session_confirm", function (data) {
      if (data && typeof data.token === "string") {
        sessionToken = data.token;
        save("token", sessionToken);
      }
      ready = true;
      inFlight = null;
      root.classList.add("dbw-ready");
      flush();
      if (!outbox.length) setTyping(false);
    });
    socket.on("bot_uttered", onBotMessage);
    // A refused message is handled with its acknowledgement (flush); this is for the session.
    socket.on("refused", function (why) {
      var code = why && why.code;
      if (code === "too_many_sessions") setStatus(t("offline"));
    });
    function lost() {
      ready = false;
      inFlight = null;
      window.clearTimeout(retryTimer);
      setTyping(false);
      root.classList.remove("dbw-ready");
      root.classList.add("dbw-reconnecting");
      setStatus(t("reconnecting"));
      // socket.io would replay what was emitted while down; the outbox does that, with ids.
      socket.sendBuffer = [];
    }
    socket.on("disconnect", lost);
    socket.on("connect_error", lost);
  }

  function restart() {
    if (socket) socket.disconnect();
    socket = null;
    ready = false;
    inFlight = null;
    forget();
    history = [];
    outbox = [];
    got = {};
    sessionToken = null;
    thread.textContent = "";
    replies.textContent = "";
    setTyping(false);
    setStatus("");
    touch();
    showGreeting(false);
    connect();
    input.focus();
  }

  launcher.addEventListener("click", function () { setOpen(panel.hidden); });
  closeButton.addEventListener("click", function () { setOpen(false); });
  restartButton.addEventListener("click", restart);
  root.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && !panel.hidden) {
      event.preventDefault();
      setOpen(false);
    }
  });
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = input.value;
    input.value = "";
    sendMessage(text);
    input.focus();
  });

  function start() {
    fetch(server + "/webhooks/socketio/widget/" + encodeURIComponent(dealer), {
      credentials: "omit"
    }).then(function (res) {
      if (!res.ok) throw new Error("the chat server refused this site (" + res.status + ")");
      return res.json();
    }).then(function (data) {
      config = data;
      title.textContent = data.name;
      applyLanguage();
      document.body.appendChild(root);
      history.forEach(renderMessage);
      var last = history[history.length - 1];
      if (last && last.from === "bot") showQuickReplies(last.buttons);
      if (outbox.length || load("open", false)) setOpen(true);
    }).catch(function (err) {
      console.error("dealerbot widget:", err.message);
    });
  }

  var link = document.createElement("link");
  link.rel = "stylesheet";
  link.href = base + "widget.css";
  document.head.appendChild(link);
  start();
})();
