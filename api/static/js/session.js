// The signed-in session, kept per tab in sessionStorage (a new tab signs in on its own).

const KEY = 'tenantflow.token';

export function readSession() {
  const token = sessionStorage.getItem(KEY);
  if (!token) return null;
  const claims = decodeClaims(token);
  if (!claims) {
    sessionStorage.removeItem(KEY);
    return null;
  }
  const roles = Array.isArray(claims.roles) ? claims.roles : [];
  return {
    token,
    email: claims.email ?? '',
    tenant: claims.tenant ?? '',
    expiresAt: typeof claims.exp === 'number' ? claims.exp * 1000 : Infinity,
    isRoot: claims.tenant === 'root' && roles.includes('root'),
    // Reads its own tenant (the API checks; this only picks the page).
    isAdmin: roles.includes('admin'),
  };
}

export function saveSession(token) {
  sessionStorage.setItem(KEY, token);
  return readSession();
}

export function clearSession() {
  sessionStorage.removeItem(KEY);
}

export const isExpired = (session) => session.expiresAt <= Date.now();

// The claims are read for display and expiry only; the API verifies the signature.
function decodeClaims(token) {
  try {
    const part = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    const binary = atob(part.padEnd(Math.ceil(part.length / 4) * 4, '='));
    const bytes = Uint8Array.from(binary, (char) => char.charCodeAt(0));
    const claims = JSON.parse(new TextDecoder().decode(bytes));
    return claims && typeof claims === 'object' ? claims : null;
  } catch {
    return null;
  }
}
