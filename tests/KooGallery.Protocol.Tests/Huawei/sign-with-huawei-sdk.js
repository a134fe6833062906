// Signs requests with Huawei's own SDK signer (@huaweicloud/huaweicloud-sdk-core, AKSKSigner), for the
// differential test ApigSignerDifferentialTests. Reads {ak, sk, requests:[{method, endpoint, query, date, data}]}
// on stdin; writes [{authorization, body}] on stdout, body being the exact text the SDK hashed.
'use strict';
const { AKSKSigner } = require('@huaweicloud/huaweicloud-sdk-core/auth/AKSKSigner');

let input = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => { input += chunk; });
process.stdin.on('end', () => {
  const job = JSON.parse(input);
  const credential = { getAk: () => job.ak, getSk: () => job.sk };
  const out = job.requests.map((r) => {
    const request = {
      endpoint: r.endpoint,
      method: r.method,
      headers: { 'X-Sdk-Date': r.date, 'content-type': 'application/json' },
      queryParams: r.query,
      data: r.data === null ? undefined : r.data,
    };
    // The canonical request exactly as sign() hashes it (its last Hex input), for the test's failure messages.
    const hashed = [];
    const hex = AKSKSigner.Hex;
    AKSKSigner.Hex = (text) => { hashed.push(text); return hex(text); };
    const signed = AKSKSigner.sign(request, credential);
    AKSKSigner.Hex = hex;
    const canonical = hashed[hashed.length - 1];
    return { authorization: signed.Authorization, body: r.data === null ? '' : JSON.stringify(r.data), canonical };
  });
  process.stdout.write(JSON.stringify(out));
});
