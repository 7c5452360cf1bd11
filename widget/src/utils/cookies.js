// First-party cookies: read, and write on the cookie domain where the page is inside it.
export function readCookie(name) {
  var m = document.cookie.match('(?:^|; )' + name + '=([^;]*)');
  return m ? m[1] : null;
}
function cookieDomain() {
  var d = (CFG.cookie_domain || '').replace(/^\./, ''), host = location.hostname;
  return d && (host === d || host.slice(-d.length - 1) === '.' + d) ? d : '';
}
export function writeCookie(name, value, maxAge) {
  var domain = cookieDomain();
  document.cookie = name + '=' + value + '; path=/; max-age=' + maxAge + '; SameSite=Lax' +
    (domain ? '; domain=' + domain : '') + (location.protocol === 'https:' ? '; Secure' : '');
}
