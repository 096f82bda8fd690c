// A full Vendure checkout per loop (8 clients by default): add a variant, add two of
// another, customer, address, eligible shipping methods, shipping method, ArrangingPayment,
// payment (must end PaymentAuthorized). Usage: node checkout.js [clients] [seconds]; prints orders/s.
const http = require('http');
const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
const CLIENTS = Number(process.argv[2] || 8), SECONDS = Number(process.argv[3] || 10), WARMUP = 2;
function gql(token, query, variables) {
  return new Promise((resolve, reject) => {
    const body = JSON.stringify({ query, variables });
    const headers = { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) };
    if (token) headers.authorization = 'Bearer ' + token;
    const req = http.request({ host: '127.0.0.1', port: 3000, path: '/shop-api', method: 'POST', agent, headers }, res => {
      let d = ''; res.on('data', c => d += c); res.on('end', () => {
        if (res.statusCode !== 200) return reject(new Error(`HTTP ${res.statusCode}: ${d.slice(0, 200)}`));
        let j;
        try { j = JSON.parse(d); } catch (e) { return reject(new Error('not JSON: ' + d.slice(0, 200))); }
        if (j.errors) return reject(new Error(JSON.stringify(j.errors)));
        resolve({ data: j.data, token: res.headers['vendure-auth-token'] || token });
      });
    });
    req.on('error', reject); req.end(body);
  });
}
// Runs a mutation whose answer is an Order or an ErrorResult; an ErrorResult throws.
async function mutate(s, field, query, variables) {
  const r = await gql(s.token, query, variables);
  s.token = r.token;
  const answer = r.data[field];
  if (answer.errorCode) throw new Error(`${field}: ${answer.errorCode} ${answer.message}`);
  return answer;
}
const ORDER = 'id code state totalWithTax';
const OR_ERROR = '... on ErrorResult{errorCode message}';
async function one(s, n) {
  const v1 = 1 + (n * 7) % 200, v2 = 1 + (n * 13 + 5) % 200;
  const add = `mutation($v:ID!,$q:Int!){addItemToOrder(productVariantId:$v,quantity:$q){... on Order{${ORDER}} ${OR_ERROR}}}`;
  await mutate(s, 'addItemToOrder', add, { v: String(v1), q: 1 });
  await mutate(s, 'addItemToOrder', add, { v: String(v2), q: 2 });
  await mutate(s, 'setCustomerForOrder', `mutation($i:CreateCustomerInput!){setCustomerForOrder(input:$i){... on Order{id} ${OR_ERROR}}}`,
    { i: { emailAddress: `c${s.id}-${n}@example.vn`, firstName: 'Nguyen', lastName: 'An' } });
  await mutate(s, 'setOrderShippingAddress', `mutation($i:CreateAddressInput!){setOrderShippingAddress(input:$i){... on Order{id} ${OR_ERROR}}}`,
    { i: { fullName: 'Nguyen Van An', streetLine1: '12 Le Loi', city: 'Hue', countryCode: 'VN', phoneNumber: '0912345678' } });
  const methods = (await gql(s.token, '{eligibleShippingMethods{id}}')).data.eligibleShippingMethods;
  if (methods.length === 0) throw new Error('no eligible shipping method');
  await mutate(s, 'setOrderShippingMethod', `mutation($m:[ID!]!){setOrderShippingMethod(shippingMethodId:$m){... on Order{id} ${OR_ERROR}}}`, { m: [methods[0].id] });
  await mutate(s, 'transitionOrderToState', `mutation{transitionOrderToState(state:"ArrangingPayment"){... on Order{id state} ${OR_ERROR}}}`);
  const paid = await mutate(s, 'addPaymentToOrder', `mutation{addPaymentToOrder(input:{method:"standard-payment",metadata:{}}){... on Order{${ORDER}} ${OR_ERROR}}}`);
  if (paid.state !== 'PaymentAuthorized') throw new Error('order ended ' + paid.state);
}
(async () => {
  const start = Date.now(), measureFrom = start + WARMUP * 1000, end = measureFrom + SECONDS * 1000;
  let done = 0, errors = 0, firstError = null; const lat = [];
  await Promise.all([...Array(CLIENTS)].map(async (_, id) => {
    const s = { id, token: null }; let n = 0;
    while (Date.now() < end) {
      const t0 = Date.now();
      try { await one(s, n++); if (t0 >= measureFrom) { done++; lat.push(Date.now() - t0); } }
      catch (e) { if (t0 >= measureFrom) errors++; firstError = firstError || e.message; s.token = null; }
    }
  }));
  lat.sort((a, b) => a - b);
  const q = p => lat.length ? lat[Math.min(lat.length - 1, Math.floor(lat.length * p))] + 'ms' : '-';
  console.log(`checkout clients=${CLIENTS} orders/s=${(done / SECONDS).toFixed(1)} p50=${q(0.5)} p99=${q(0.99)} errors=${errors}${firstError ? ' first: ' + firstError : ''}`);
  // A run with errors or without an order is not a measurement.
  process.exitCode = errors > 0 || done === 0 ? 1 : 0;
})();
