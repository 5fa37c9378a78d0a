// The sign-in inside the DingTalk app (views/dingtalk-in-app.eta): ask the DingTalk JSAPI for a
// sign-in code and post it back with the page's form (CSRF token included). Whatever goes wrong
// (no JSAPI, the person refuses, no answer in time) goes to the usual DingTalk sign-in instead.
(function () {
  'use strict';
  var form = document.getElementById('in-app-login');
  if (!form) return;
  var data = form.dataset;
  var finished = false;

  function fallBack(reason) {
    if (finished) return;
    finished = true;
    var target = new URL(data.fallback, window.location.href);
    target.searchParams.set('reason', reason);
    window.location.replace(target.href);
  }

  var timer = window.setTimeout(
    function () {
      fallBack('timeout');
    },
    Number(data.timeoutMs) || 5000,
  );

  var dd = window.dd;
  if (!dd || typeof dd.requestAuthCode !== 'function') {
    window.clearTimeout(timer);
    fallBack('no_jsapi');
    return;
  }
  var asked;
  try {
    asked = Promise.resolve(dd.requestAuthCode({ corpId: data.corpId, clientId: data.clientId }));
  } catch (e) {
    asked = Promise.reject(e);
  }
  asked.then(
    function (result) {
      window.clearTimeout(timer);
      var code = result && (result.code || result.authCode);
      if (finished) return;
      if (typeof code !== 'string' || code === '') return fallBack('no_code');
      finished = true;
      form.elements.namedItem('code').value = code;
      form.submit();
    },
    function () {
      window.clearTimeout(timer);
      fallBack('refused');
    },
  );
})();
