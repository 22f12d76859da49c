/**
 * Hash routes (`#/experiments/EXP-1`): the app serves the page with
 * express.static, so no path of the page may collide with the API's.
 */

export type RouteName = 'experiments' | 'experiment' | 'admin-users' | 'admin-experiments' | 'admin-experiment' | 'not-found';

export interface Route {
  name: RouteName;
  params: Record<string, string>;
  path: string;
}

const TABLE: [RouteName, RegExp, string[]][] = [
  ['experiments', /^\/(?:experiments)?$/, []],
  ['experiment', /^\/experiments\/([^/]+)$/, ['id']],
  ['admin-users', /^\/admin\/users$/, []],
  ['admin-experiments', /^\/admin\/experiments$/, []],
  ['admin-experiment', /^\/admin\/experiments\/([^/]+)$/, ['id']],
];

export function currentPath(): string {
  const hash = location.hash.replace(/^#/, '');
  return hash.startsWith('/') ? hash : '/';
}

export function parse(path = currentPath()): Route {
  for (const [name, pattern, keys] of TABLE) {
    const match = pattern.exec(path);
    if (!match) continue;
    const params: Record<string, string> = {};
    keys.forEach((key, i) => {
      try {
        params[key] = decodeURIComponent(match[i + 1]);
      } catch {
        params[key] = match[i + 1];
      }
    });
    return { name, params, path };
  }
  return { name: 'not-found', params: {}, path };
}

/** The href of a page: `href('experiments', id)` → `#/experiments/EXP%3A1`. */
export function href(...segments: string[]): string {
  return `#/${segments.map(encodeURIComponent).join('/')}`;
}

export function navigate(target: string): void {
  if (location.hash === target) window.dispatchEvent(new HashChangeEvent('hashchange'));
  else location.hash = target;
}

export function onRouteChange(callback: () => void): void {
  window.addEventListener('hashchange', callback);
}
