// What this tab knows about the signed-in key, shared by the parts of the
// console. signin.js fills it when a key signs in (its scopes from probes of
// the routes each scope opens, and the model and key lists those probes
// returned) and clears it at sign-out; console.js records the tab on show;
// the other modules read the scopes and refresh the lists they own.
//
//   import { S } from './state.js';
//   if (!S.scopes.admin) return;

export const S = {
  scopes: { detect: false, chat: false, admin: false },
  models: [],        // detection models
  chatModels: [],
  chatModelsError: null,  // why /v1/models failed for a key that may chat
  keys: [],
  activeTab: null,
};
