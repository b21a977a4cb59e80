import { Router } from 'express';
import { requireStaff } from '../../auth/principal.js';
import { labSummary } from '../../labs/catalog.js';
import { principalOf, type HttpDeps } from '../app.js';

export function labRoutes(deps: HttpDeps): Router {
  const r = Router();
  r.get('/labs', (req, res) => {
    requireStaff(principalOf(req));
    // `invalid` lists labs that failed to load, so an author sees why one is missing.
    res.json({ labs: deps.labs.list().map(labSummary), invalid: deps.labs.invalid });
  });
  r.get('/labs/:id', (req, res) => {
    requireStaff(principalOf(req));
    const lab = deps.labs.require(String(req.params.id));
    res.json({ ...labSummary(lab), brief: lab.brief, image: lab.image, network: lab.network });
  });
  return r;
}
