/** The lab catalog: what each lab asks and checks; start a session from here. */
import { listLabs } from '../../api/endpoints.js';
import { notice } from '../../components/notice.js';
import { requireStaff, staffLayout } from '../../components/staff-layout.js';
import { h, replaceChildren } from '../../lib/dom.js';
import { explain } from '../../lib/messages.js';
import type { PageContext } from '../../router.js';
import { openCreateSessionDialog } from './create-session-dialog.js';
import { labCard } from './lab-card.js';

export async function labsPage({ root }: PageContext): Promise<void> {
  document.title = 'Labs · opslab';
  const user = await requireStaff(root);
  if (!user) return;
  const body = h('div', null, h('p', { class: 'muted' }, 'Loading the labs…'));
  root.replaceChildren(
    ...staffLayout(
      user,
      'labs',
      h('div', { class: 'page-head' }, h('div', null, h('h1', null, 'Labs'), h('p', { class: 'muted' }, 'Pick a lab and start a session; you get a link to send the candidate.'))),
      body,
    ),
  );
  try {
    const { labs, invalid } = await listLabs();
    replaceChildren(
      body,
      labs.length > 0
        ? h('div', { class: 'lab-grid' }, labs.map((lab) => labCard(lab, openCreateSessionDialog)))
        : h('p', { class: 'empty' }, 'No labs are loaded. Lab folders go in labs/ on the server; see the README.'),
      invalid.length > 0
        ? notice(
            'warning',
            h('strong', null, `${invalid.length === 1 ? 'One lab' : `${invalid.length} labs`} could not be loaded: `),
            invalid.map((l) => l.id).join(', '),
            '. Run ',
            h('code', null, 'opslab lab validate'),
            ' on the server to see why.',
          )
        : null,
    );
  } catch (e) {
    body.replaceChildren(notice('error', explain(e, 'staff')));
  }
}
