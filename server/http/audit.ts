/**
 * Records a staff action in the audit log, from a request. Candidates' actions are not
 * audited (they are the session's own events); only a staff principal is written down.
 */
import type { Request } from 'express';
import type { Principal } from '../auth/principal.js';
import type { AuditAction } from '../store/audit-repo.js';
import type { Store } from '../store/store.js';

export async function audit(
  store: Pick<Store, 'audit'>,
  req: Request,
  p: Principal,
  action: AuditAction,
  sessionId: string | null,
  detail: Record<string, unknown> = {},
): Promise<void> {
  if (p.kind !== 'staff') return;
  await store.audit.record({
    actor: { id: p.userId, name: p.name, role: p.role },
    action,
    sessionId,
    // The socket's address: opslab trusts no proxy header (trust proxy is off).
    client: req.socket.remoteAddress ?? null,
    detail,
  });
}
