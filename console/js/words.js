// The console's words for the API's enums, in the help page's wording.

export const MODE = { DEFAULT: 'Default', ASYNC: 'Async', SYNC: 'Sync' };

export const MODE_EXPLANATION = {
  DEFAULT: 'Starts from the cached package before the async update time, updates in the background between the two times, and updates before starting after the sync update time.',
  ASYNC: 'Starts at once from the cached package and downloads the new version in the background; it runs from the next cold start.',
  SYNC: 'Checks at every open and shows a loading page while the new version downloads, then starts it.',
};

export const TYPE = { DSL: 'DSL', H5: 'H5' };
export const CHANNEL = { WORKSPACE: 'Workspace', ALIPAY_PLUS: 'Alipay+' };

export const LOCK = {
  NOT_ADMIN: 'Only a tenant workspace admin can change the update mode.',
  NOT_DSL: 'The update mode can be changed only for DSL mini programs.',
  ALIPAY_PLUS_CHANNEL: 'This mini program comes from the Alipay+ channel, which owns its release settings.',
};

const STATUS = {
  NEW_VERSION_CREATED: 'New Version Created',
  PENDING_APPROVAL: 'Pending Approval',
  APPROVED: 'Approved',
  REJECTED: 'Rejected',
  GRAY_RELEASE: 'Gray Release',
  FULL_RELEASE: 'Full Release',
  OFFLINE: 'Offline',
};

export function statusWords(version) {
  const words = STATUS[version.status] || version.status;
  return version.status === 'GRAY_RELEASE' && version.grayPercentage != null
    ? `${words} (${version.grayPercentage}%)`
    : words;
}

export const LAUNCH_ACTION = {
  NONE: 'Start the cached package',
  SYNC_DOWNLOAD: 'Download before starting',
  ASYNC_DOWNLOAD: 'Start the cached package and download in the background',
};

// HookEventType, for the event checkboxes of a new integration.
export const HOOK_EVENTS = ['UPDATE_MODE_CHANGED', 'VERSION_CREATED', 'VERSION_SUBMITTED_FOR_RELEASE_APPROVAL',
  'VERSION_APPROVED', 'VERSION_REJECTED', 'VERSION_RELEASED', 'VERSION_OFFLINE', 'ROLLOUT_PAUSED', 'ROLLOUT_COMPLETED'];

export const WINDOW_STATUS = { SCHEDULED: 'Scheduled', ACTIVE: 'Active', COMPLETED: 'Completed', CANCELLED: 'Cancelled', SKIPPED: 'Skipped' };

export const ROLLOUT_STATUS = { RUNNING: 'Running', PAUSED: 'Paused', COMPLETED: 'Completed', CANCELLED: 'Cancelled' };

/** An enum value in words: WORKSPACE_ADMIN → "Workspace admin". */
export const sentence = (name) => name.charAt(0) + name.slice(1).toLowerCase().replaceAll('_', ' ');


export const plural = (n, one, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

export function duration(seconds) {
  if (seconds % 86400 === 0 && seconds) return plural(seconds / 86400, 'day');
  if (seconds % 3600 === 0 && seconds) return plural(seconds / 3600, 'hour');
  if (seconds % 60 === 0 && seconds) return plural(seconds / 60, 'minute');
  return plural(seconds, 'second');
}

const numberFormat = new Intl.NumberFormat();
/** 12410 → "12,410" (in the viewer's locale); with a noun, "12,410 devices". */
export const count = (n, one, many = `${one}s`) => (one ? `${numberFormat.format(n)} ${n === 1 ? one : many}` : numberFormat.format(n));

const shareFormat = new Intl.NumberFormat(undefined, { style: 'percent', maximumFractionDigits: 1 });
/** A share of 0 to 1 → "3.3%". */
export const percent = (share) => shareFormat.format(share);

/** What a device is told, as what it would do ("9,870 would update in the background"). */
export const WOULD = {
  ASYNC_DOWNLOAD: 'would update in the background',
  SYNC_DOWNLOAD: 'would wait for a download',
  NONE: 'would start the version they have',
};

/** sinceHours in the words of the console's periods. */
export const PERIOD = { 24: 'last 24 hours', 168: 'last 7 days' };
