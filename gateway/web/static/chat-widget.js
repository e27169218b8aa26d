/*!
 * Kura chat widget: one <script> tag, served by the gateway at /embed/chat-widget.js.
 *
 *   <script src="https://GATEWAY/embed/chat-widget.js" data-api-key="kura_pk_..."
 *     data-assistant-id="1" data-backend-url="https://GATEWAY" data-theme="light"
 *     data-position="bottom-right" data-primary-color="#6366F1" data-title="Chat Support"
 *     [data-mode="voice"]></script>
 *
 * data-mode="voice" adds a microphone button: PCM16 24 kHz from an AudioWorklet to the session,
 * the agent's audio played back, and talking over the agent cuts it off (barge-in) and tells
 * the session how much of the reply was heard (interrupt.playedMs).
 *
 * It creates a chat session (POST /api/v1/sessions), connects its WebSocket, streams the
 * assistant's words as they arrive and starts a new session when the connection is lost. It
 * lives in a Shadow DOM so the page's CSS and its own never meet, and loads nothing else from
 * the network. No build step: this file is what browsers run.
 */
(function () {
  "use strict";

  var script = document.currentScript ||
    document.querySelector('script[src*="/embed/chat-widget.js"]');
  if (!script || script.__kuraWidget) return;
  script.__kuraWidget = true;

  var LOG = "[Kura chat]";
  var RECONNECT_DELAYS_MS = [500, 1000, 2000, 4000, 8000]; // then give up and offer a retry
  var DEFAULT_COLOR = "#6366F1";

  function readConfig(el) {
    var d = el.dataset, problems = [], warnings = [];
    var cfg = {
      apiKey: (d.apiKey || "").trim(),
      assistantId: Number(d.assistantId),
      backendUrl: (d.backendUrl || "").trim().replace(/\/+$/, ""),
      theme: d.theme === "dark" ? "dark" : "light",
      position: d.position === "bottom-left" ? "bottom-left" : "bottom-right",
      color: d.primaryColor || DEFAULT_COLOR,
      title: d.title || "Chat",
      voice: d.mode === "voice"
    };
    if (!cfg.apiKey) problems.push("data-api-key is missing");
    if (!d.assistantId) problems.push("data-assistant-id is missing");
    else if (!(cfg.assistantId > 0 && Math.floor(cfg.assistantId) === cfg.assistantId))
      problems.push("data-assistant-id must be a positive whole number, not \"" + d.assistantId + "\"");
    if (!cfg.backendUrl) problems.push("data-backend-url is missing");
    else if (!/^https?:\/\/[^/]+/i.test(cfg.backendUrl))
      problems.push("data-backend-url must start with http:// or https://");
    if (cfg.apiKey.indexOf("kura_live_") === 0)
      warnings.push("data-api-key is a secret key (kura_live_...): anyone who reads this page can " +
        "use it. Create a publishable key (kura_pk_...) for web pages.");
    if (d.theme && d.theme !== cfg.theme) warnings.push("data-theme must be light or dark");
    if (d.position && d.position !== cfg.position)
      warnings.push("data-position must be bottom-right or bottom-left");
    if (!/^#([0-9a-f]{3}|[0-9a-f]{6})$/i.test(cfg.color)) {
      warnings.push("data-primary-color must be a hex colour such as #6366F1");
      cfg.color = DEFAULT_COLOR;
    }
    cfg.problems = problems;
    cfg.warnings = warnings;
    return cfg;
  }

  var CSS = /*@css@*/"";  // chat-widget.css, spliced in when the gateway loads the files

  var ICON_CHAT = '<svg viewBox="0 0 24 24" aria-hidden="true"><path d="M4 4h16a2 2 0 0 1 2 2v10a2 ' +
    '2 0 0 1-2 2H8l-4 4V6a2 2 0 0 1 2-2z"/></svg>';

  var ICON_MIC = '<svg viewBox="0 0 24 24" aria-hidden="true" width="18" height="18" ' +
    'fill="currentColor"><path d="M12 14a3 3 0 0 0 3-3V5a3 3 0 0 0-6 0v6a3 3 0 0 0 3 3zm5-3a5 5 ' +
    '0 0 1-10 0H5a7 7 0 0 0 6 6.92V21h2v-3.08A7 7 0 0 0 19 11h-2z"/></svg>';

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    for (var name in attrs) node.setAttribute(name, attrs[name]);
    if (text) node.textContent = text;
    return node;
  }

  /** Page CSS still reaches the host element itself (a shadow root only guards what is inside),
   *  so the host is a custom element whose inline !important style beats any page rule. */
  function hostStyle(cfg) {
    var side = cfg.position === "bottom-left" ? "left" : "right";
    var rules = ["all:initial", "display:block", "position:fixed", "bottom:20px", side + ":20px",
      "z-index:2147483000", "width:56px", "height:56px"];
    return rules.join(" !important;") + " !important;--kura-primary:" + cfg.color;
  }

  /** The widget's DOM, inside one open shadow root on a host element of its own. */
  function buildUi(cfg) {
    var host = el("kura-chat-widget", { "data-theme": cfg.theme, "data-position": cfg.position,
      style: hostStyle(cfg) });
    var root = host.attachShadow({ mode: "open" });
    root.appendChild(el("style", {}, CSS));
    var ui = { host: host, root: root };
    var frame = el("div", { class: "kura" });
    root.appendChild(frame);
    ui.launcher = el("button", { class: "launcher", type: "button", "aria-expanded": "false",
      "aria-controls": "kura-panel", "aria-label": "Open " + cfg.title });
    ui.launcher.innerHTML = ICON_CHAT;
    ui.panel = el("section", { class: "panel", id: "kura-panel", role: "dialog",
      "aria-labelledby": "kura-title", hidden: "" });
    var header = el("header");
    header.appendChild(el("h2", { id: "kura-title" }, cfg.title));
    ui.close = el("button", { type: "button", "aria-label": "Close chat" }, "\u00d7");
    header.appendChild(ui.close);
    ui.log = el("div", { class: "log", role: "log", "aria-live": "polite", tabindex: "0",
      "aria-label": "Conversation" });
    ui.typing = el("div", { class: "typing", role: "status", hidden: "" });
    ui.form = el("form", { "aria-label": "Send a message" });
    ui.input = el("textarea", { id: "kura-input", rows: "1", placeholder: "Type a message\u2026",
      "aria-label": "Message", maxlength: "4000" });
    ui.send = el("button", { type: "submit" }, "Send");
    ui.form.appendChild(ui.input);
    if (cfg.voice) {
      ui.mic = el("button", { type: "button", class: "mic", "aria-pressed": "false",
        "aria-label": "Talk" });
      ui.mic.innerHTML = ICON_MIC;
      ui.form.appendChild(ui.mic);
    }
    ui.form.appendChild(ui.send);
    ui.panel.appendChild(header);
    ui.panel.appendChild(ui.log);
    ui.panel.appendChild(ui.typing);
    ui.panel.appendChild(ui.form);
    frame.appendChild(ui.panel);
    frame.appendChild(ui.launcher);
    return ui;
  }

  function Widget(cfg) {
    this.cfg = cfg;
    this.ui = buildUi(cfg);
    this.ws = null;
    this.state = "idle"; // idle | connecting | open | ended | failed
    this.pending = [];   // messages typed before the session is open
    this.reply = null;   // the assistant bubble being streamed
    this.attempt = 0;
    this.timer = null;
    this.voice = cfg.voice ? new Voice(this) : null;
    this.bind();
  }

  Widget.prototype.bind = function () {
    var self = this, ui = this.ui;
    ui.launcher.addEventListener("click", function () { self.toggle(); });
    ui.close.addEventListener("click", function () { self.toggle(false); });
    ui.panel.addEventListener("keydown", function (e) {
      if (e.key === "Escape") { e.stopPropagation(); self.toggle(false); }
    });
    ui.form.addEventListener("submit", function (e) { e.preventDefault(); self.submit(); });
    if (ui.mic) ui.mic.addEventListener("click", function () { self.voice.toggle(); });
    ui.input.addEventListener("keydown", function (e) {
      if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); self.submit(); }
    });
  };

  Widget.prototype.toggle = function (open) {
    var ui = this.ui;
    open = open === undefined ? ui.panel.hidden : open;
    ui.panel.hidden = !open;
    ui.launcher.setAttribute("aria-expanded", String(open));
    ui.launcher.setAttribute("aria-label", (open ? "Close " : "Open ") + this.cfg.title);
    if (!open) { ui.launcher.focus(); return; }
    ui.input.focus();
    if (this.cfg.problems.length) this.showConfigProblems();
    else if (this.state === "idle") this.connect();
  };

  Widget.prototype.showConfigProblems = function () {
    if (this.ui.log.querySelector(".problem")) return;
    this.problem("This chat is not set up correctly: " + this.cfg.problems.join("; ") + ".");
    this.ui.input.disabled = this.ui.send.disabled = true;
  };

  Widget.prototype.add = function (cls, text) {
    var node = el("div", { class: "msg " + cls }, text);
    this.ui.log.appendChild(node);
    this.ui.log.scrollTop = this.ui.log.scrollHeight;
    return node;
  };

  Widget.prototype.note = function (text) { return this.add("note", text); };

  /** A problem the visitor should see, also logged for whoever installed the tag. */
  Widget.prototype.problem = function (text, retry) {
    console.error(LOG, text);
    var node = this.add("problem", text);
    node.setAttribute("role", "alert");
    if (retry) {
      var self = this, button = el("button", { type: "button" }, "Try again");
      button.addEventListener("click", function () {
        node.remove(); self.attempt = 0; self.connect();
      });
      node.appendChild(el("br"));
      node.appendChild(button);
    }
    return node;
  };

  Widget.prototype.setTyping = function (on) {
    var t = this.ui.typing;
    t.hidden = !on;
    t.innerHTML = on ? '<span class="dots" aria-hidden="true"><span></span><span></span>' +
      '<span></span></span> <span>Assistant is typing\u2026</span>' : "";
  };

  Widget.prototype.submit = function () {
    var text = this.ui.input.value.trim();
    if (!text || this.cfg.problems.length) return;
    this.ui.input.value = "";
    this.add("user", text);
    this.setTyping(true);
    if (this.state === "open") this.send({ type: "textMessage", text: text });
    else {
      this.pending.push(text);
      if (this.state !== "connecting") { this.attempt = 0; this.connect(); }
    }
  };

  Widget.prototype.send = function (message) {
    if (this.ws && this.ws.readyState === 1) this.ws.send(JSON.stringify(message));
  };

  /** Create a session over REST, then open its WebSocket. */
  Widget.prototype.connect = function () {
    var self = this, cfg = this.cfg;
    clearTimeout(this.timer);
    this.state = "connecting";
    fetch(cfg.backendUrl + "/api/v1/sessions", {
      method: "POST",
      headers: { "Authorization": "Bearer " + cfg.apiKey, "Content-Type": "application/json" },
      // A voice session takes text too, so voice mode needs no second session for typing.
      body: JSON.stringify({ assistant_id: cfg.assistantId, mode: cfg.voice ? "voice" : "chat" })
    }).then(function (res) {
      return res.text().then(function (body) { return self.created(res, body); });
    }, function () {
      self.fail("Cannot reach the chat service at " + cfg.backendUrl + ". Check data-backend-url, " +
        "and that this site (" + location.origin + ") is one of the key's allowed origins.", true);
    });
  };

  Widget.prototype.created = function (res, body) {
    var data = null;
    try { data = JSON.parse(body); } catch (e) { /* reported below */ }
    if (res.ok && data && data.websocket_url) return this.open(data.websocket_url);
    var message = data && data.error && data.error.message;
    if (!data) return this.fail("data-backend-url (" + this.cfg.backendUrl + ") does not answer " +
      "like a Kura gateway.", false);
    var texts = {
      401: "The chat key was not accepted (data-api-key): " + message + ".",
      403: "This chat key may not start this chat: " + message + ".",
      422: "Assistant " + this.cfg.assistantId + " cannot be used (data-assistant-id): " + message + ".",
      429: "Too many chats started from here. Please wait a minute and try again."
    };
    this.fail(texts[res.status] || "The chat service is unavailable (" + res.status + "). " +
      "Please try again later.", res.status === 429 || res.status >= 500);
  };

  Widget.prototype.fail = function (text, retry) {
    this.state = "failed";
    this.setTyping(false);
    this.pending = [];
    this.problem(text, retry);
  };

  Widget.prototype.open = function (url) {
    var self = this, ws = new WebSocket(url);
    this.ws = ws;
    ws.onmessage = function (e) {
      var message;
      try { message = JSON.parse(e.data); } catch (err) { return; }
      var handler = self.handlers[message.type];
      if (handler) handler.call(self, message);
    };
    ws.onclose = function (e) { if (self.ws === ws) self.closed(e); };
  };

  Widget.prototype.handlers = {
    sessionOpen: function () {
      this.state = "open";
      this.attempt = 0;
      var queued = this.pending;
      this.pending = [];
      for (var i = 0; i < queued.length; i++) this.send({ type: "textMessage", text: queued[i] });
    },
    transcriptionUpdate: function (m) {
      if (!m.text) return;
      if (m.source === "input") {  // what the provider heard the visitor say (voice)
        this.heard = this.heard || this.add("user", "");
        this.heard.textContent += m.text;
        return;
      }
      this.setTyping(false);
      if (!this.reply) {
        this.reply = this.add("assistant", "");
        this.reply.setAttribute("aria-busy", "true"); // read out once complete, not per word
      }
      this.reply.textContent += m.text;
      this.ui.log.scrollTop = this.ui.log.scrollHeight;
    },
    agentAudioChunk: function (m) {
      if (this.voice) this.voice.play(m.audio);
    },
    turnComplete: function (m) {
      if (this.voice) this.voice.replyDone(m.interrupted);
      if (!this.reply && m.fullOutput) this.reply = this.add("assistant", m.fullOutput);
      if (this.reply) this.reply.removeAttribute("aria-busy");
      this.reply = this.heard = null;
      this.setTyping(false);
    },
    sessionTimeout: function (m) {
      this.end("The chat was closed after " + m.timeoutSeconds + " seconds without messages. " +
        "Send a message to start a new one.");
    },
    sessionError: function (m) {
      this.setTyping(false);
      console.warn(LOG, m.error);
      this.note("Something went wrong: " + m.error);
    }
  };

  /** The session is over for good (idle, or ended by the assistant): the next message makes a
   *  new one, but nothing reconnects on its own. */
  Widget.prototype.end = function (text) {
    if (this.voice) { this.voice.silence(); this.voice.stop(); }
    this.state = "ended";
    this.ws = null;
    this.reply = null;
    this.setTyping(false);
    this.note(text);
  };

  Widget.prototype.closed = function (e) {
    this.ws = null;
    if (this.reply) this.reply.removeAttribute("aria-busy");
    this.reply = null;
    if (this.state === "ended" || this.state === "failed") return;
    if (e.code === 1000 && this.state === "open") {
      return this.end("The conversation has ended. Send a message to start a new one.");
    }
    // Lost (network, server restart, refused): the docs' recovery is a new session.
    if (this.attempt >= RECONNECT_DELAYS_MS.length) {
      return this.fail("The connection to the chat service was lost.", true);
    }
    this.state = "connecting";
    this.note("Connection lost. Reconnecting\u2026");
    var self = this;
    this.timer = setTimeout(function () { self.connect(); }, RECONNECT_DELAYS_MS[this.attempt++]);
  };

  /*@voice@*/

  function start() {
    var cfg = readConfig(script);
    cfg.warnings.forEach(function (w) { console.warn(LOG, w); });
    if (cfg.problems.length) console.error(LOG, "misconfigured tag: " + cfg.problems.join("; "));
    var widget = new Widget(cfg);
    document.body.appendChild(widget.ui.host);
  }

  if (document.body) start();
  else document.addEventListener("DOMContentLoaded", start);
})();
