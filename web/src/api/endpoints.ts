/**
 * One function per API call the pages make (docs/openapi.yaml). Answers of the newer
 * endpoints (notes, commits, brief, extend, sign-in) are read with defaults for missing
 * fields, and each page says in words when an endpoint is not on the server it talks to
 * (an older server).
 */
import { api, type Auth, STAFF } from './http.js';
import type {
  Commit,
  CommitHistory,
  CreatedSession,
  InvalidLab,
  Lab,
  LabSummary,
  Note,
  Report,
  Session,
  StaffUser,
  StoredReport,
  TerminalTicket,
} from './types.js';

const base = (id: string) => `/api/sessions/${encodeURIComponent(id)}`;

export const listLabs = () => api.get<{ labs: LabSummary[]; invalid: InvalidLab[] }>('/api/labs');
export const getLab = (id: string) => api.get<Lab>(`/api/labs/${encodeURIComponent(id)}`);

export const listSessions = () => api.get<{ sessions: Session[] }>('/api/sessions');
export const getSession = (id: string, auth: Auth = STAFF) => api.get<Session>(base(id), { auth });
export const createSession = (body: { lab: string; candidate: { name: string; email?: string }; durationMinutes?: number }) =>
  api.post<CreatedSession>('/api/sessions', body);
export const endSession = (id: string, auth: Auth = STAFF) => api.post<Session>(`${base(id)}/end`, {}, { auth });
export const gradeSession = (id: string, auth: Auth = STAFF) => api.post<Report>(`${base(id)}/grade`, {}, { auth });
export const terminalTicket = (id: string, auth: Auth = STAFF) => api.post<TerminalTicket>(`${base(id)}/terminal-ticket`, {}, { auth });

export const latestReport = (id: string) => api.get<StoredReport>(`${base(id)}/report`);
export const allReports = (id: string) => api.get<{ reports: StoredReport[] }>(`${base(id)}/report?all=1`);
export const recording = (id: string) => api.get<string>(`${base(id)}/recording`, { text: true });
export const workspaceUrl = (id: string) => `${base(id)}/workspace`;

/** More time for a live session; answers the session and the minutes really added. */
export async function extendSession(id: string, minutes: number): Promise<{ session: Session | null; addedMinutes: number }> {
  const answer = await api.post<(Session & { addedMinutes?: number }) | undefined>(`${base(id)}/extend`, { minutes });
  return { session: answer && 'id' in answer ? answer : null, addedMinutes: answer?.addedMinutes ?? minutes };
}

interface RawNote {
  id?: string;
  author?: string;
  mine?: boolean;
  text?: string;
  updatedAt?: string;
}

function readNote(n: RawNote): Note {
  return { id: n.id ?? '', author: n.author ?? '', mine: n.mine ?? false, text: n.text ?? '', updatedAt: n.updatedAt ?? null };
}

/** Every interviewer's note on the session, oldest first (the caller's is `mine`). */
export async function listNotes(id: string): Promise<Note[]> {
  const answer = await api.get<{ notes?: RawNote[] }>(`${base(id)}/notes`);
  return (answer.notes ?? []).map(readNote);
}

/** Saves the caller's own note (the whole text; empty clears it). */
export async function saveNote(id: string, text: string): Promise<Note> {
  return readNote(await api.put<RawNote>(`${base(id)}/notes`, { text }));
}

export async function getBrief(id: string, auth: Auth): Promise<{ title: string | null; markdown: string }> {
  const answer = await api.get<{ brief?: string; title?: string; lab?: { title?: string } }>(`${base(id)}/brief`, { auth });
  return { title: answer.title ?? answer.lab?.title ?? null, markdown: answer.brief ?? '' };
}

/** The candidate's commits since the start, the files changed and the whole diff. */
export async function getCommits(id: string): Promise<CommitHistory> {
  const a = await api.get<Partial<CommitHistory> & { commits?: Partial<Commit>[] }>(`${base(id)}/commits`);
  return {
    source: a.source ?? null,
    commits: (a.commits ?? []).map((c) => ({
      hash: c.hash ?? '',
      subject: c.subject ?? '',
      author: c.author ?? '',
      email: c.email ?? '',
      date: c.date ?? null,
      files: c.files ?? [],
    })),
    commitsTruncated: a.commitsTruncated ?? false,
    files: a.files ?? [],
    diff: a.diff ?? '',
    truncated: a.truncated ?? false,
    warning: a.warning ?? null,
  };
}

type MeAnswer = { user?: StaffUser } & Partial<StaffUser>;

function readUser(answer: MeAnswer | undefined): StaffUser | null {
  const u = answer?.user ?? answer;
  if (!u || typeof u.name !== 'string') return null;
  return { id: u.id, name: u.name, role: typeof u.role === 'string' ? u.role : 'staff' };
}

export const login = async (token: string) => readUser(await api.post<MeAnswer>('/api/auth/login', { token }, { auth: { kind: 'none' } }));
export const me = async () => readUser(await api.get<MeAnswer>('/api/auth/me'));
export const logout = () => api.post<unknown>('/api/auth/logout', {});
