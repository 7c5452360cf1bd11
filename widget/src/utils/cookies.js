// First-party cookies: read, write on the cookie domain where the page is inside it, delete.
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
// Deletes every cookie whose name matches a registry pattern (`_ga_*`), on the host and domains.
export function deleteCookies(patterns) {
  var res = patterns.map(function (p) {
    return new RegExp('^' + p.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*') + '$');
  });
  var host = location.hostname, domains = ['', host, '.' + host];
  if (CFG.cookie_domain) domains.push(CFG.cookie_domain);
  document.cookie.split('; ').forEach(function (pair) {
    var name = pair.split('=')[0];
    if (!name || !res.some(function (re) { return re.test(name); })) return;
    domains.forEach(function (d) {
      document.cookie = name + '=; path=/; max-age=0' + (d ? '; domain=' + d : '');
    });
  });
}
