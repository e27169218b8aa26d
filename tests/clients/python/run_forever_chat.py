# The Kura API documentation's "Python" example, run by tests/clients/test_python_clients.py.
# Unchanged except that the host and key come from the environment, pyaudio is not imported
# (the example never uses it), and the session is in chat mode. Lines marked "test:" answer the
# greeting with a text message and close the socket from on_message once the reply completes.
import json, base64, threading, requests, websocket
import os  # test

KURA_HOST = os.environ["KURA_HOST"]  # test: was "https://api.yourdomain.com"
API_KEY = os.environ["KURA_API_KEY"]  # test: was "kura_live_xxxxxxxxxxxxxxxxxx"
ASSISTANT_ID = 1
SAMPLE_RATE = 24000

# Create session
session = requests.post(
    f"{KURA_HOST}/api/v1/sessions",
    headers={"Authorization": f"Bearer {API_KEY}"},
    json={"assistant_id": ASSISTANT_ID, "mode": "chat"},  # test: the documentation says "voice"
).json()

turns = []  # test


def on_message(ws, msg):  # test: the documentation's lambda, then the lines below
    print(json.loads(msg))
    message = json.loads(msg)
    if message["type"] == "turnComplete":
        turns.append(message)
        if len(turns) == 1:
            ws.send(json.dumps({"type": "textMessage", "text": "Hello from run_forever"}))
        else:
            ws.close()


threading.Timer(15, lambda: os._exit(2)).start()  # test: fail instead of hanging

# Connect and handle messages
ws = websocket.WebSocketApp(
    session["websocket_url"],
    on_message=on_message,  # test: was lambda ws, msg: print(json.loads(msg))
)
ws.run_forever()
os._exit(0 if len(turns) == 2 else 1)  # test: stop the timer thread too
