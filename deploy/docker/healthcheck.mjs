// Docker HEALTHCHECK for the security realm (the slim image has no curl).
//
// HEALTHCHECK_CA set (path of a PEM file with the CA that issued the appliance's certificate;
// for a self-signed certificate, the certificate itself): GET https://127.0.0.1:<port>/health/live
// with full verification against that CA only. The certificate must be valid for
// HEALTHCHECK_SERVERNAME (a DNS name in its subjectAltName) or, if that is unset, for the IP
// address 127.0.0.1. Healthy means HTTP 200.
// HEALTHCHECK_CA unset: only checks that the port accepts a TCP connection.
// Certificate verification is never disabled.
//
// The variables deliberately do not start with REALM_: the appliance refuses to start when it sees
// a REALM_* variable that is not one of its settings, and the container environment is shared.
import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import { connect } from 'node:net';

const HOST = '127.0.0.1';
const TIMEOUT_MS = 4000;
const port = Number(process.env.REALM_HTTP_PORT || 8443);
const caFile = process.env.HEALTHCHECK_CA;
const servername = process.env.HEALTHCHECK_SERVERNAME || undefined;

function finish(ok, reason) {
  if (!ok) console.error(`unhealthy: ${reason}`);
  process.exit(ok ? 0 : 1);
}
setTimeout(() => finish(false, `no answer within ${TIMEOUT_MS} ms`), TIMEOUT_MS).unref();

if (!Number.isInteger(port) || port < 1 || port > 65535) finish(false, `bad REALM_HTTP_PORT ${process.env.REALM_HTTP_PORT}`);

if (caFile) {
  let ca;
  try {
    ca = readFileSync(caFile);
  } catch (error) {
    finish(false, `cannot read HEALTHCHECK_CA ${caFile}: ${error.code ?? error.message}`);
  }
  const req = request(
    { host: HOST, port, path: '/health/live', method: 'GET', ca, servername, agent: false, timeout: TIMEOUT_MS },
    (res) => {
      res.resume();
      finish(res.statusCode === 200, `GET /health/live answered ${res.statusCode}`);
    },
  );
  req.on('timeout', () => req.destroy(new Error('timeout')));
  req.on('error', (error) => finish(false, error.code ?? error.message));
  req.end();
} else {
  const socket = connect({ host: HOST, port });
  socket.on('connect', () => {
    socket.destroy();
    finish(true);
  });
  socket.on('error', (error) => finish(false, error.code ?? error.message));
}
