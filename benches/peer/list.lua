wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"query":"{ products(options:{take:20}) { items { id name slug variants { id name sku price priceWithTax stockLevel } } } }"}'
