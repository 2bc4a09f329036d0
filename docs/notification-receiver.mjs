// A minimal notification endpoint for Berth (or Distribution): prints one JSON line per new event.
//   node docs/notification-receiver.mjs [port]        (default 5050; 0 picks a free one)
// and in Berth's config.yml:
//   notifications:
//     endpoints:
//       - name: example
//         url: http://127.0.0.1:5050/events
// Berth delivers each event at least once and keeps its id across redeliveries: the receiver drops
// ids it has seen. Answering 200 only after handling an envelope is what makes delivery reliable;
// answer 5xx (or nothing) and Berth sends it again later.
import http from 'node:http';
import process from 'node:process';

const SEEN_MAX = 100_000;
const seen = new Set();

const server = http.createServer((req, res) => {
  if (req.method !== 'POST') return void res.writeHead(405).end();
  let body = '';
  req.setEncoding('utf8');
  req.on('data', (chunk) => (body += chunk));
  req.on('end', () => {
    let envelope;
    try {
      envelope = JSON.parse(body);
    } catch {
      return void res.writeHead(400).end();
    }
    for (const event of envelope.events ?? []) {
      if (seen.has(event.id)) continue;
      seen.add(event.id);
      // Forget the oldest ids: a Set iterates in insertion order.
      if (seen.size > SEEN_MAX) seen.delete(seen.values().next().value);
      const { repository, tag, digest, mediaType } = event.target ?? {};
      process.stdout.write(`${JSON.stringify({ id: event.id, action: event.action, repository, tag, digest, mediaType, actor: event.actor?.name })}\n`);
    }
    res.writeHead(200).end();
  });
});

server.listen(Number(process.argv[2] ?? 5050), () => process.stderr.write(`listening on port ${server.address().port}\n`));
