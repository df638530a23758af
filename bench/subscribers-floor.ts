/**
 * The floor for bench/subscribers.ts (`--floor`): a bare `ws` server that speaks just enough
 * graphql-transport-ws for the bench's subscribers and fans each published message out with one
 * `socket.send` of one pre-serialized string per subscriber. No GraphQL, no Redis, no buffers: what is
 * left is the cost of writing a websocket frame per delivery, which no gateway can go below.
 */
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type WebSocket, WebSocketServer } from 'ws';

const subscribers = new Map<WebSocket, string>();

const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { variables?: { payload?: unknown } };
    const message = {
      id: randomUUID(),
      payload: body.variables?.payload,
      publishedAt: new Date().toISOString(),
    };
    const json = JSON.stringify({ data: { messages: message } });
    for (const [socket, id] of subscribers)
      socket.send(`{"id":${JSON.stringify(id)},"type":"next","payload":${json}}`);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ data: { publish: { messageId: message.id } } }));
  });
});

const wss = new WebSocketServer({ server, path: '/graphql' });
wss.on('connection', (socket) => {
  socket.on('message', (data) => {
    const message = JSON.parse(String(data)) as { type: string; id?: string };
    if (message.type === 'connection_init') socket.send('{"type":"connection_ack"}');
    else if (message.type === 'subscribe' && message.id) subscribers.set(socket, message.id);
  });
  socket.on('close', () => subscribers.delete(socket));
});

server.listen(0, '127.0.0.1', () => {
  const { port } = server.address() as AddressInfo;
  process.send?.({ url: `http://127.0.0.1:${port}/graphql` });
});
process.on('message', () => {
  for (const socket of wss.clients) socket.terminate();
  server.close(() => process.disconnect());
});
