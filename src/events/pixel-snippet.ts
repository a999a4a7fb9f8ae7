/**
 * The snippet an advertiser pastes into its pages: one image request per event, with the page's
 * consent signals when a CMP is there (the TCF and GPP APIs are asked, briefly, and the pixel fires
 * without them when there is none). `base` is the exchange-facing URL (NOTICE_BASE_URL).
 */
export function pixelSnippet(base: string, advertiserId: string): string {
  return `<script>
(function (w) {
  var BASE = ${JSON.stringify(`${base}/px/${encodeURIComponent(advertiserId)}/`)};
  function send(event, data, consent) {
    var q = [];
    data = data || {};
    for (var k in data) if (data[k] !== undefined && data[k] !== null) q.push(k + '=' + encodeURIComponent(data[k]));
    for (var c in consent) q.push(c + '=' + encodeURIComponent(consent[c]));
    new Image().src = BASE + encodeURIComponent(event) + (q.length ? '?' + q.join('&') : '');
  }
  // dspPixel('purchase', { value: 49.9, currency: 'EUR', item: 'sku-123' })
  w.dspPixel = function (event, data) {
    if (typeof w.__tcfapi !== 'function') return send(event, data, {});
    var done = false;
    var fire = function (consent) { if (!done) { done = true; send(event, data, consent); } };
    setTimeout(function () { fire({ gdpr: 1 }); }, 500); // a CMP that does not answer gave no consent
    w.__tcfapi('getTCData', 2, function (tc, ok) {
      fire(ok && tc && tc.gdprApplies !== undefined ? { gdpr: tc.gdprApplies ? 1 : 0, gdpr_consent: tc.tcString || '' } : {});
    });
  };
  w.dspPixel('visit');
})(window);
</script>`;
}
