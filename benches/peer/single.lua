local i = 0
request = function()
  i = i + 1
  local body = '{"query":"query($s:String!){ product(slug:$s) { id name slug description variants { id name sku price priceWithTax stockLevel } } }","variables":{"s":"product-' .. ((i % 100) + 1) .. '"}}'
  return wrk.format("POST", "/shop-api", {["Content-Type"]="application/json"}, body)
end
