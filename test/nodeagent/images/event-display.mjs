// Stand-in for Knative's event_display image on the local node agent: receives CloudEvents over
// HTTP (binary or structured) and prints each one the way event_display does.
import { createServer } from 'node:http';
import { HTTP } from 'cloudevents';

const host = process.env.NODEAGENT_POD_IP ?? '0.0.0.0';
const server = createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    try {
      const parsed = HTTP.toEvent({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      for (const e of Array.isArray(parsed) ? parsed : [parsed]) {
        const ext = Object.entries(e).filter(
          ([k, v]) =>
            v !== undefined &&
            ![
              'specversion',
              'type',
              'source',
              'id',
              'time',
              'datacontenttype',
              'data',
              'data_base64',
            ].includes(k),
        );
        const lines = [
          '☁️  cloudevents.Event',
          'Context Attributes,',
          `  specversion: ${e.specversion}`,
          `  type: ${e.type}`,
          `  source: ${e.source}`,
          `  id: ${e.id}`,
          ...(e.time ? [`  time: ${e.time}`] : []),
          ...(e.datacontenttype ? [`  datacontenttype: ${e.datacontenttype}`] : []),
          ...(ext.length ? ['Extensions,', ...ext.map(([k, v]) => `  ${k}: ${v}`)] : []),
          'Data,',
          `  ${typeof e.data === 'string' ? e.data : JSON.stringify(e.data, null, 2).replace(/\n/g, '\n  ')}`,
        ];
        console.log(lines.join('\n'));
      }
      res.writeHead(202).end();
    } catch (err) {
      console.log(`not a CloudEvent: ${err.message}`);
      res.writeHead(400).end();
    }
  });
});
server.listen(8080, host, () => console.log(`event display listening on ${host}:8080`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
