// A stand-in container for node agent tests: serves /healthz and echoes its env on its pod IP.
import { createServer } from 'node:http';
import { readFileSync } from 'node:fs';
const ip = process.env.POD_IP;
const server = createServer((req, res) => {
  if (req.url === '/healthz') return void res.end('ok');
  const secretFile = process.env.SECRET_FILE;
  res.setHeader('content-type', 'application/json');
  res.end(
    JSON.stringify({
      pid: process.pid,
      env: { POD_IP: ip, POD_NAME: process.env.POD_NAME, GREETING: process.env.GREETING },
      secret: secretFile ? readFileSync(secretFile, 'utf8') : null,
    }),
  );
});
server.listen(8080, ip);
process.on('SIGTERM', () => server.close(() => process.exit(0)));
