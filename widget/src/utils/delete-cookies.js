// Deleting first-party cookies after a withdrawal (in the preferences' part: src/core/withdrawal.js).
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
