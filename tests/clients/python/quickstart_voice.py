# The Kura API documentation's "Quick Start", run by tests/clients/test_python_clients.py.
# Unchanged except that the host and key come from the environment. Lines marked "test:" supply
# what the snippet leaves out (it uses json without importing it, and base64_pcm_data is never
# defined), wait for the greeting before speaking, and print what came back.
import requests, websocket
import base64, json, os, sys, wave  # test

KURA_HOST = os.environ["KURA_HOST"]  # test: was "https://api.yourdomain.com"
API_KEY = os.environ["KURA_API_KEY"]  # test: was "kura_live_xxx"
websocket.setdefaulttimeout(15)  # test: fail instead of hanging


def report(message):  # test: one JSON line per server message, audio as its length
    if "audio" in message:
        message = {**message, "audio": len(base64.b64decode(message["audio"]))}
    print(json.dumps(message), flush=True)
    return message


# 1. Create session
session = requests.post(
    f"{KURA_HOST}/api/v1/sessions",
    headers={"Authorization": f"Bearer {API_KEY}"},
    json={"assistant_id": 1, "mode": "voice"}
).json()

# 2. Connect WebSocket
ws = websocket.create_connection(session["websocket_url"])

while report(json.loads(ws.recv()))["type"] != "turnComplete":  # test: the greeting
    pass
with wave.open(sys.argv[1], "rb") as clip:  # test: a spoken clip, PCM16 mono 24 kHz
    pcm = clip.readframes(clip.getnframes()) + bytes(24_000 * 2)  # then 1 s of silence
for start in range(0, len(pcm), 1920):  # test: 40 ms chunks
    base64_pcm_data = base64.b64encode(pcm[start : start + 1920]).decode()

    # 3. Send audio, receive AI responses
    ws.send(json.dumps({"type": "audioChunk", "audio": base64_pcm_data}))

while report(json.loads(ws.recv()))["type"] != "turnComplete":  # test: the played-back turn
    pass
ws.close()  # test
