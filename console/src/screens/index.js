// The screens in menu order. `admin: true` hides a screen from a legal session (the API refuses
// those calls to a legal key anyway; the console only does not offer them).
import { h } from '../dom.js';
import { signin } from './signin.js';
import { people } from './people.js';
import { proof } from './proof.js';
import { ledger } from './ledger.js';
import { numbers } from './numbers.js';
import { requests } from './requests.js';
import { health } from './health.js';
import { policies } from './policies.js';
import { keys, settings, audit } from './admin.js';

export const screens = [
  { path: 'signin', title: 'Sign in', render: signin },
  { path: 'people', title: 'Find a person', nav: true, render: people },
  { path: 'records', title: 'Prove a decision', render: proof },
  { path: 'ledger', title: 'Query and export', nav: true, render: ledger },
  { path: 'numbers', title: 'Numbers', nav: true, render: numbers },
  { path: 'requests', title: 'Access and erasure', nav: true, render: requests },
  { path: 'health', title: 'Ledger health', nav: true, render: health },
  { path: 'policies', title: 'Policies', nav: true, render: policies },
  { path: 'keys', title: 'Keys', nav: true, admin: true, render: keys },
  { path: 'settings', title: 'Site settings', nav: true, admin: true, render: settings },
  { path: 'audit', title: 'Audit log', nav: true, admin: true, render: audit },
  { path: 'forbidden', title: 'Not for this key', render: ({ main }) => main.append(h('p', null, 'This screen is for admin keys; your session has the legal role.')) },
  { path: 'notfound', title: 'Not found', render: ({ main, link, href }) => main.append(h('p', null, 'No such screen. ', link(href('people'), 'Find a person'))) },
];
