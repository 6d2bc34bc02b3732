// The signed-in principal. The token lives in sessionStorage: it survives a
// reload but not the tab, so a forgotten console does not stay signed in.

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

  hasRole(role) {
    return Boolean(this.viewer?.roles.includes(role));
  },
  get isAdmin() {
    return this.hasRole('WORKSPACE_ADMIN');
  },
  get canCreateVersions() {
    return this.isAdmin || this.hasRole('DEVELOPER');
  },

  clear() {
    this.token = null;
    this.viewer = null;
  },
};
