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
        const j = JSON.parse(d); if (j.errors) return reject(new Error(JSON.stringify(j.errors)));
        resolve({ data: j.data, token: res.headers['vendure-auth-token'] || token });
      });
    });
    req.on('error', reject); req.end(body);
  });
}
const ORDER = 'id code state totalWithTax';
async function one(s, n) {
  const v1 = 1 + (n * 7) % 200, v2 = 1 + (n * 13 + 5) % 200;
  let r = await gql(s.token, `mutation($v:ID!){addItemToOrder(productVariantId:$v,quantity:1){... on Order{${ORDER}} ... on ErrorResult{errorCode message}}}`, { v: String(v1) });
  s.token = r.token; if (r.data.addItemToOrder.errorCode) throw new Error(r.data.addItemToOrder.message);
  r = await gql(s.token, `mutation($v:ID!){addItemToOrder(productVariantId:$v,quantity:2){... on Order{${ORDER}} ... on ErrorResult{errorCode message}}}`, { v: String(v2) });
  if (r.data.addItemToOrder.errorCode) throw new Error(r.data.addItemToOrder.message);
  r = await gql(s.token, `mutation($i:CreateCustomerInput!){setCustomerForOrder(input:$i){... on Order{id} ... on ErrorResult{errorCode message}}}`,
    { i: { emailAddress: `c${s.id}-${n}@example.vn`, firstName: 'Nguyen', lastName: 'An' } });
  if (r.data.setCustomerForOrder.errorCode) throw new Error(r.data.setCustomerForOrder.message);
  r = await gql(s.token, `mutation($i:CreateAddressInput!){setOrderShippingAddress(input:$i){... on Order{id} ... on ErrorResult{errorCode message}}}`,
    { i: { fullName: 'Nguyen Van An', streetLine1: '12 Le Loi', city: 'Hue', countryCode: 'VN', phoneNumber: '0912345678' } });
  if (r.data.setOrderShippingAddress.errorCode) throw new Error(r.data.setOrderShippingAddress.message);
  r = await gql(s.token, `{eligibleShippingMethods{id}}`);
  const sm = r.data.eligibleShippingMethods[0].id;
  r = await gql(s.token, `mutation($m:[ID!]!){setOrderShippingMethod(shippingMethodId:$m){... on Order{id} ... on ErrorResult{errorCode message}}}`, { m: [sm] });
  if (r.data.setOrderShippingMethod.errorCode) throw new Error(r.data.setOrderShippingMethod.message);
  r = await gql(s.token, `mutation{transitionOrderToState(state:"ArrangingPayment"){... on Order{id state} ... on ErrorResult{errorCode message}}}`);
  if (r.data.transitionOrderToState.errorCode) throw new Error(r.data.transitionOrderToState.message);
  r = await gql(s.token, `mutation{addPaymentToOrder(input:{method:"standard-payment",metadata:{}}){... on Order{${ORDER}} ... on ErrorResult{errorCode message}}}`);
  if (r.data.addPaymentToOrder.errorCode) throw new Error(r.data.addPaymentToOrder.message);
  if (r.data.addPaymentToOrder.state !== 'PaymentAuthorized') throw new Error('state ' + r.data.addPaymentToOrder.state);
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
  const q = p => lat[Math.min(lat.length - 1, Math.floor(lat.length * p))];
  console.log(`checkout clients=${CLIENTS} orders/s=${(done / SECONDS).toFixed(1)} p50=${q(0.5)}ms p99=${q(0.99)}ms errors=${errors}${firstError ? ' first: ' + firstError : ''}`);
})();
