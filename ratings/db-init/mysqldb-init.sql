-- ratings v2's MySQL schema and rows, as upstream's mysqldb-init.sql: ReviewID 1 is Reviewer1,
-- 2 is Reviewer2. Fed to the official mysql image's /docker-entrypoint-initdb.d (k8s and
-- compose) and to scripts/mariadb-local.sh; a test keeps the copies equal.
CREATE DATABASE IF NOT EXISTS test;
USE test;

CREATE TABLE IF NOT EXISTS ratings (
  ReviewID INT NOT NULL,
  Rating INT,
  PRIMARY KEY (ReviewID)
);
INSERT INTO ratings (ReviewID, Rating) VALUES (1, 5), (2, 4)
  ON DUPLICATE KEY UPDATE ReviewID = ReviewID;
