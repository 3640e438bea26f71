// What the node-driven tests (tests/node, tests/console) share: a test PKI
// made with the openssl CLI, and waiting for `osprey serve` to listen.
//
//   import { makeCerts, waitForListening } from '../support/node/harness.mjs';
//   makeCerts(tmp, 'My Test CA');            // tmp/ca.pem, tmp/srv.pem, tmp/srv.key (127.0.0.1)
//   const log = { text: '' };
//   const port = await waitForListening(proc, log, 60000);  // log.text collects the output

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

// A CA and a server certificate for 127.0.0.1 / localhost, valid one day:
// the fake upstream serves TLS and Osprey trusts ca.pem
// (OSPREY_UPSTREAM_CA_FILE), so the real TLS client path is the one tested.
export function makeCerts(dir, caName) {
  const o = (args) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  o(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem',
     '-days', '1', '-subj', `/CN=${caName}`, '-addext', 'basicConstraints=critical,CA:TRUE',
     '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  o(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'srv.key', '-out', 'srv.csr',
     '-subj', '/CN=127.0.0.1']);
  fs.writeFileSync(path.join(dir, 'ext.cnf'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  o(['x509', '-req', '-in', 'srv.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'srv.pem', '-days', '1',
     '-extfile', 'ext.cnf']);
}

// Resolves with the port from Osprey's "listening on http://host:PORT" log
// line; rejects with the log when it exits first or takes longer than
// timeoutMs. Everything the process prints is appended to log.text.
export function waitForListening(proc, log, timeoutMs) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`osprey did not start:\n${log.text}`)), timeoutMs);
    const onData = (d) => {
      log.text += d.toString();
      const m = log.text.match(/listening on http:\/\/[^:]+:(\d+)/);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    };
    proc.stderr.on('data', onData);
    proc.stdout.on('data', onData);
    proc.on('exit', (code) => reject(new Error(`osprey exited with ${code}:\n${log.text}`)));
  });
}
