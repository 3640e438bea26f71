#include <gtest/gtest.h>

#include "common/error.hpp"
#include "http/query.hpp"

using osprey::ApiError;
using osprey::http::Query;

TEST(Query, ParsesDecodesAndKeepsOrder) {
  auto q = Query::parse("model=yolov8n&confidence=0.4&classes=dog&classes=traffic%20light&flag&empty=");
  EXPECT_EQ(*q.get("model"), "yolov8n");
  EXPECT_EQ(*q.get("confidence"), "0.4");
  EXPECT_EQ(q.all("classes"), (std::vector<std::string>{"dog", "traffic light"}));
  EXPECT_TRUE(q.has("flag"));
  EXPECT_EQ(*q.get("empty"), "");
  EXPECT_FALSE(q.get("nope"));
}

TEST(Query, MalformedEscapeIs400) {
  try {
    Query::parse("a=%zz");
    FAIL();
  } catch (const ApiError& e) {
    EXPECT_EQ(e.status(), 400);
  }
}
