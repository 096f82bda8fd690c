"""Writes the peer's catalogue: 100 products with two variants each (Vendure's import CSV)."""
import csv
import sys

HEADER = ("name,slug,description,assets,facets,optionGroups,optionValues,sku,price,"
          "taxCategory,stockOnHand,trackInventory,variantAssets,variantFacets").split(",")
with open(sys.argv[1], "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(HEADER)
    for i in range(1, 101):
        w.writerow([f"Product {i}", f"product-{i}", f"Description of product {i}", "",
                    "category:Things", "size", "small", f"SKU{i}-S", f"{10 + i % 50}.00",
                    "standard", "100000", "true", "", ""])
        w.writerow(["", "", "", "", "", "", "large", f"SKU{i}-L", f"{12 + i % 50}.00",
                    "standard", "100000", "true", "", ""])
