// Streams one session with the original client and prints each message as a JSON line;
// exits 0 after a result, 1 on a permanent close.
import { SessionsWebSocket } from '../remote/SessionsWebSocket.js'

const [sessionId, orgUuid, token] = process.argv.slice(2)
const client = new SessionsWebSocket(sessionId, orgUuid, () => token, {
  onMessage: message => {
    process.stdout.write(JSON.stringify(message) + '\n')
    if (message.type === 'result') process.exit(0)
  },
  onClose: () => process.exit(1),
})
void client.connect()
setTimeout(() => process.exit(2), 20000)
