#!/usr/bin/env node
// DynamoDB for the local stack and the tests: the pinned dynalite package's
// server, started as its cli.js does, with one fix.
//
// dynalite 4.0.0 throws from every request's 'error' event (index.js:
// `req.on('error', function (err) { throw err })`). A client that closes its
// connection before its request body is read — a process killed while it
// writes, a call cancelled half-sent — makes Node emit "aborted" there, and
// the throw ends the process: every test after it fails with "connection
// refused" on DynamoDB. DynamoDB itself only loses that one request. Here the
// throwing listener is replaced by one that logs the request and drops it;
// the store is untouched (dynalite acts only once a body has ended).
//
//   node hack/emulators/dynalite.js --host 127.0.0.1 --port 4569
'use strict'

const dynalite = require('dynalite')

function flag (name, fallback) {
  const i = process.argv.indexOf(`--${name}`)
  if (i < 0) return fallback
  if (i + 1 >= process.argv.length) {
    console.error(`dynalite: --${name} needs a value`)
    process.exit(2)
  }
  return process.argv[i + 1]
}

const host = flag('host', '127.0.0.1')
const port = Number(flag('port', '4569'))
if (!Number.isInteger(port) || port <= 0 || port > 65535) {
  console.error(`dynalite: --port ${flag('port')} is not a TCP port (1-65535)`)
  process.exit(2)
}

const server = dynalite({})
const handlers = server.listeners('request')
server.removeAllListeners('request')
server.on('request', (req, res) => {
  for (const handle of handlers) handle(req, res) // attaches dynalite's listeners, throwing one included
  req.removeAllListeners('error')
  req.on('error', (err) => {
    const op = req.headers['x-amz-target'] || `${req.method} ${req.url}`
    console.error(`dynalite: dropped ${op}: the client closed the connection before its body was read (${err.message})`)
    res.destroy()
  })
})

server.listen(port, host, () => {
  const address = server.address()
  console.log(`Dynalite listening at: http://${host}:${address.port} (abandoned requests are dropped, not fatal)`)
})
