// Injected before the page's scripts: watches the widget's WebSocket and its shadow DOM to time
// how long the first streamed word of a reply takes to become visible.
(() => {
  const probe = (window.__kuraProbe = {
    sockets: [], sessions: 0, armed: false, sent: {}, received: {}, interrupts: [], cut: 0,
  });
  const Native = window.WebSocket;
  window.WebSocket = function (url, protocols) {
    const ws = new Native(url, protocols);
    probe.sockets.push(ws);
    probe.sessions += 1;
    const send = ws.send.bind(ws);
    ws.send = (data) => {
      const m = JSON.parse(data);
      probe.sent[m.type] = (probe.sent[m.type] || 0) + 1;
      if (m.type === "interrupt") probe.interrupts.push(m);
      send(data);
    };
    ws.addEventListener("message", (event) => {
      const m = JSON.parse(event.data);
      probe.received[m.type] = (probe.received[m.type] || 0) + 1;
      if (m.type === "turnComplete" && m.interrupted) probe.cut += 1;
      if (!probe.armed || probe.firstAt || m.type !== "transcriptionUpdate" || m.source !== "output") return;
      probe.firstAt = performance.now();
      probe.firstText = m.text;
      watchFor(m.text.trim());
    });
    return ws;
  };
  window.WebSocket.prototype = Native.prototype;
  Object.assign(window.WebSocket, { CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3 });

  function watchFor(text) {
    const root = document.querySelector("kura-chat-widget").shadowRoot;
    const seen = () => [...root.querySelectorAll(".assistant")].some((b) => b.textContent.includes(text));
    const done = () => {
      probe.domAt = performance.now();
      // One frame later the text has been painted.
      requestAnimationFrame(() => setTimeout(() => { probe.paintedAt = performance.now(); }, 0));
    };
    if (seen()) return done();
    const observer = new MutationObserver(() => {
      if (seen()) { observer.disconnect(); done(); }
    });
    observer.observe(root, { subtree: true, childList: true, characterData: true });
  }
})();
