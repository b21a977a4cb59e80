/** The browser app's entry: styles, then the router. */
import './styles/base.css';
import './styles/components.css';
import './styles/pages.css';
import { startRouter } from './router.js';

const root = document.getElementById('app');
if (root) startRouter(root);
