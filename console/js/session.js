// The signed-in principal. The token lives in sessionStorage: it survives a
// reload but not the tab, so a forgotten console does not stay signed in.
// What the user may do is the API's answer (Viewer.capabilities), never a
// copy of its role rules.

const KEY = 'update-mode.token';

export const session = {
  viewer: null,

  get token() {
    return sessionStorage.getItem(KEY);
  },
  set token(value) {
    if (value) sessionStorage.setItem(KEY, value);
    else sessionStorage.removeItem(KEY);
  },

  /** Whether the API lists `capability` (e.g. 'CREATE_VERSION') for the viewer. */
  may(capability) {
    return Boolean(this.viewer?.capabilities.includes(capability));
  },

  clear() {
    this.token = null;
    this.viewer = null;
  },
};
