// Spliced into chat-widget.js at its voice marker (gateway/web/assets.py): the browser gets one
// script, as the Kura documentation promises, and each source file stays small.
  // ---- Voice (data-mode="voice"): microphone in as PCM16 24 kHz, the agent's audio out. ----

  var VOICE_RATE_HZ = 24000;        // the Kura audio format, both ways
  var FRAME_SAMPLES = 480;          // 20 ms at 24 kHz per audioChunk
  var BARGE_IN_RMS = 0.03;          // speech over the agent, not room noise (of full scale)
  var BARGE_IN_FRAMES = 8;          // 160 ms of it before the agent is cut off

  // Runs on the audio thread: averages the context's rate down to 24 kHz (a box filter, enough
  // against aliasing for speech) and posts 20 ms Int16 frames to the page.
  var WORKLET = "class KuraMic extends AudioWorkletProcessor{constructor(o){super();" +
    "this.step=sampleRate/" + VOICE_RATE_HZ + ";this.phase=0;this.acc=0;this.n=0;" +
    "this.frame=new Int16Array(" + FRAME_SAMPLES + ");this.i=0}process(inputs){var c=inputs[0][0];" +
    "if(!c)return true;for(var k=0;k<c.length;k++){this.acc+=c[k];this.n++;this.phase++;" +
    "while(this.phase>=this.step){this.phase-=this.step;var v=this.n?this.acc/this.n:0;" +
    "this.acc=0;this.n=0;v=Math.max(-1,Math.min(1,v));this.frame[this.i++]=v<0?v*32768:v*32767;" +
    "if(this.i===this.frame.length){this.port.postMessage(this.frame.buffer,[this.frame.buffer]);" +
    "this.frame=new Int16Array(" + FRAME_SAMPLES + ");this.i=0}}}return true}}" +
    "registerProcessor('kura-mic',KuraMic);";

  function toBase64(int16) {
    var bytes = new Uint8Array(int16.buffer), text = "";
    for (var i = 0; i < bytes.length; i += 0x8000)
      text += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
    return btoa(text);
  }

  function fromBase64(b64) {
    var text = atob(b64), bytes = new Uint8Array(text.length);
    for (var i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
    return new Int16Array(bytes.buffer, 0, bytes.length >> 1);
  }

  function Voice(widget) {
    this.widget = widget;
    this.ctx = null;
    this.stream = null;
    this.node = null;
    this.playing = [];  // {source, start, end} of the current reply, in context time
    this.nextAt = 0;
    this.loud = 0;
  }

  Voice.prototype.toggle = function () {
    return this.stream ? this.stop() : this.start();
  };

  Voice.prototype.start = function () {
    var self = this, w = this.widget;
    if (!navigator.mediaDevices || !window.AudioWorkletNode) {
      return w.problem("This browser cannot stream the microphone (it needs AudioWorklet).");
    }
    this.ctx = this.ctx || new AudioContext();
    var url = URL.createObjectURL(new Blob([WORKLET], { type: "text/javascript" }));
    return Promise.all([
      navigator.mediaDevices.getUserMedia({ audio: { channelCount: 1, echoCancellation: true,
        noiseSuppression: true, autoGainControl: true } }),
      this.ctx.audioWorklet.addModule(url),
      this.ctx.resume()
    ]).then(function (results) {
      URL.revokeObjectURL(url);
      self.stream = results[0];
      self.node = new AudioWorkletNode(self.ctx, "kura-mic");
      self.node.port.onmessage = function (e) { self.captured(new Int16Array(e.data)); };
      self.ctx.createMediaStreamSource(self.stream).connect(self.node);
      w.ui.mic.setAttribute("aria-pressed", "true");
      w.ui.mic.setAttribute("aria-label", "Stop talking");
      if (w.state !== "open" && w.state !== "connecting") { w.attempt = 0; w.connect(); }
    }, function (error) {
      URL.revokeObjectURL(url);
      w.problem("The microphone is not available: " + (error && error.message || error) + ".");
    });
  };

  Voice.prototype.stop = function () {
    if (this.stream) this.stream.getTracks().forEach(function (t) { t.stop(); });
    if (this.node) this.node.disconnect();
    this.stream = this.node = null;
    this.widget.ui.mic.setAttribute("aria-pressed", "false");
    this.widget.ui.mic.setAttribute("aria-label", "Talk");
  };

  /** A 20 ms microphone frame: to the session, and a barge-in when it is speech over the agent. */
  Voice.prototype.captured = function (frame) {
    var sum = 0;
    for (var i = 0; i < frame.length; i++) sum += frame[i] * frame[i];
    var rms = Math.sqrt(sum / frame.length) / 32768;
    this.loud = rms > BARGE_IN_RMS ? this.loud + 1 : 0;
    if (this.loud === BARGE_IN_FRAMES && this.speaking()) this.interrupt();
    this.widget.send({ type: "audioChunk", audio: toBase64(frame) });
  };

  Voice.prototype.speaking = function () {
    return !!this.ctx && this.nextAt > this.ctx.currentTime;
  };

  /** Queue an agentAudioChunk right after the previous one. */
  Voice.prototype.play = function (b64) {
    if (!this.ctx || !this.stream) return; // audio plays only once the visitor turned voice on
    var pcm = fromBase64(b64), now = this.ctx.currentTime;
    if (!pcm.length) return;
    if (this.fresh) {
      this.fresh = false;
      this.playing = this.playing.filter(function (p) { return p.end > now; });
    }
    var buffer = this.ctx.createBuffer(1, pcm.length, VOICE_RATE_HZ), data = buffer.getChannelData(0);
    for (var i = 0; i < pcm.length; i++) data[i] = pcm[i] / 32768;
    var source = this.ctx.createBufferSource();
    source.buffer = buffer;
    source.connect(this.ctx.destination);
    var start = Math.max(this.ctx.currentTime + 0.02, this.nextAt);
    source.start(start);
    this.nextAt = start + buffer.duration;
    this.playing.push({ source: source, start: start, end: this.nextAt });
  };

  /** How much of the current reply the visitor actually heard, from the audio clock. */
  Voice.prototype.playedMs = function () {
    var now = this.ctx ? this.ctx.currentTime : 0, played = 0;
    this.playing.forEach(function (p) { played += Math.max(0, Math.min(now, p.end) - p.start); });
    return Math.round(played * 1000);
  };

  Voice.prototype.silence = function () {
    this.playing.forEach(function (p) { try { p.source.stop(); } catch (e) { /* ended */ } });
    this.playing = [];
    this.nextAt = 0;
  };

  /** The visitor talks over the agent: stop at once, and tell the session what was heard. */
  Voice.prototype.interrupt = function () {
    var played = this.playedMs();
    this.silence();
    this.widget.send({ type: "interrupt", playedMs: played });
  };

  Voice.prototype.replyDone = function (interrupted) {
    if (interrupted) this.silence();
    else this.fresh = true;  // what is queued plays on; the next reply is counted from zero
  };
