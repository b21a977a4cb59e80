// Run in a worker thread by tickets-repo.test.ts: its own connection, waits for the
// shared "go" flag, then races the other workers to consume the same ticket.
import { parentPort, workerData } from 'node:worker_threads';
import { openDatabase } from '../../../server/store/db.js';
import { SqliteClient } from '../../../server/store/sqlite-client.js';
import { TicketsRepo } from '../../../server/store/tickets-repo.js';

const { file, hash, now, flag } = workerData as { file: string; hash: string; now: number; flag: SharedArrayBuffer };
const db = openDatabase(file);
const tickets = new TicketsRepo(new SqliteClient(db));
const go = new Int32Array(flag);
Atomics.add(go, 1, 1); // ready
Atomics.wait(go, 0, 0);
const got = await tickets.consume(hash, new Date(now));
db.close();
parentPort?.postMessage(got !== null);
