import { randomBytes } from 'node:crypto';

/**
 * A new random id: 20 lowercase hex characters (80 bits). Lowercase alphanumerics only,
 * so it is safe in container names, labels and Kubernetes object names. Ids are not
 * credentials; tokens are (see server/auth/tokens.ts).
 */
export function newId(): string {
  return randomBytes(10).toString('hex');
}
