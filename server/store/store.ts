import { AuditRepo } from './audit-repo.js';
import { systemClock, type Clock } from './clock.js';
import { openDatabase, type Db } from './db.js';
import { EventsRepo } from './events-repo.js';
import { GradesRepo } from './grades-repo.js';
import { LoginsRepo } from './logins-repo.js';
import { MetaRepo } from './meta-repo.js';
import { NotesRepo } from './notes-repo.js';
import { SessionsRepo } from './sessions-repo.js';
import { TicketsRepo } from './tickets-repo.js';
import { UsersRepo } from './users-repo.js';

/** Every repository over one database; built once by the composition root. */
export interface Store {
  readonly db: Db;
  readonly meta: MetaRepo;
  readonly users: UsersRepo;
  readonly sessions: SessionsRepo;
  readonly tickets: TicketsRepo;
  readonly events: EventsRepo;
  readonly grades: GradesRepo;
  readonly logins: LoginsRepo;
  readonly notes: NotesRepo;
  readonly audit: AuditRepo;
  close(): void;
}

export function createStore(db: Db, now: Clock = systemClock): Store {
  return {
    db,
    meta: new MetaRepo(db),
    users: new UsersRepo(db, now),
    sessions: new SessionsRepo(db, now),
    tickets: new TicketsRepo(db, now),
    events: new EventsRepo(db, now),
    grades: new GradesRepo(db, now),
    logins: new LoginsRepo(db, now),
    notes: new NotesRepo(db, now),
    audit: new AuditRepo(db, now),
    close: () => db.close(),
  };
}

/** Opens (and migrates) the database file and builds the repositories over it. */
export function openStore(file: string, options: { now?: Clock } = {}): Store {
  return createStore(openDatabase(file), options.now);
}
