// The Kura API documentation's "JavaScript / Node.js" example, run by
// tests/clients/test_node_client.py. Unchanged except that KURA_HOST and API_KEY come from the
// environment; lines marked "test:" are additions so the run ends and can be checked.
import WebSocket from 'ws';

const KURA_HOST = process.env.KURA_HOST;
const API_KEY = process.env.KURA_API_KEY;

// test: fail instead of hanging if the greeting never completes.
const timer = setTimeout(() => {
  console.error('timed out waiting for turnComplete');
  process.exit(2);
}, Number(process.env.KURA_EXAMPLE_TIMEOUT_MS ?? 15000));

// Create session
const res = await fetch(`${KURA_HOST}/api/v1/sessions`, {
  method: 'POST',
  headers: { 'Authorization': `Bearer ${API_KEY}` },
  body: JSON.stringify({ assistant_id: 1, mode: 'chat' }),
});
const session = await res.json();
console.log('KURA_TEST session', res.status, JSON.stringify(session)); // test

// Connect WebSocket
const ws = new WebSocket(session.websocket_url);
ws.on('message', (raw) => {
  const msg = JSON.parse(raw.toString());
  console.log(msg.type, msg);
  console.log('KURA_TEST message', JSON.stringify(msg)); // test
  if (msg.type === 'turnComplete') ws.close(1000); // test: the greeting is done
});
ws.on('close', (code) => { // test
  clearTimeout(timer);
  console.log('KURA_TEST closed', code);
});
