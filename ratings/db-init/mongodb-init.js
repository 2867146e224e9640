// ratings v2's MongoDB data, as upstream's ratings_data.json: Reviewer1's 5 stars, then
// Reviewer2's 4, in this order. Run by the official mongo image from
// /docker-entrypoint-initdb.d (k8s and compose); a test keeps the copies equal.
// NumberInt: mongoimport stores upstream's JSON numbers as 32-bit integers too.
db.getSiblingDB("test").ratings.insertMany([
  { rating: NumberInt(5) },
  { rating: NumberInt(4) },
]);
