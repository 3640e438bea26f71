// Model folder discovery and model.toml / override validation.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "inference/model_spec.hpp"
#include "test_env.hpp"

namespace osprey::inference {
namespace {
namespace fs = std::filesystem;

fs::path models() { return fs::path(testing::shared_dir()) / "models"; }

TEST(ModelSpec, InfersFormatAndEngineFromFiles) {
  auto s = make_spec(models() / "yolo-fastest-1.1", "yolo-fastest-1.1", nullptr);
  EXPECT_EQ(s.format, "darknet");
  EXPECT_EQ(s.engine, "opencv");
  EXPECT_EQ(s.family, "darknet");
  EXPECT_NE(s.weights_path.find(".weights"), std::string::npos);
  EXPECT_NE(s.names_file.find("coco.names"), std::string::npos);

  s = make_spec(models() / "yolov8n-ts", "yolov8n-ts", nullptr);
  EXPECT_EQ(s.format, "torchscript");
  EXPECT_EQ(s.engine, "libtorch");
  EXPECT_EQ(s.family, "");  // settled from the output shape at load

  s = make_spec(models() / "yolox-nano", "yolox-nano", nlohmann::json{{"confidence", 0.5}, {"input_width", 320}});
  EXPECT_EQ(s.format, "onnx");
  EXPECT_FLOAT_EQ(s.confidence, 0.5f);
  EXPECT_EQ(s.input_width, 320);
}

TEST(ModelSpec, RejectsBadSettings) {
  EXPECT_NO_THROW(validate_overrides(nullptr));
  EXPECT_NO_THROW(validate_overrides(nlohmann::json{{"family", "yolox"}, {"iou", 0.6}}));
  EXPECT_THROW(validate_overrides(nlohmann::json{{"bogus", 1}}), SpecError);
  EXPECT_THROW(validate_overrides(nlohmann::json{{"confidence", 2}}), SpecError);
  EXPECT_THROW(validate_overrides(nlohmann::json{{"confidence", "high"}}), SpecError);
  EXPECT_THROW(validate_overrides(nlohmann::json{{"input_width", 333}}), SpecError);
  EXPECT_THROW(validate_overrides(nlohmann::json{{"family", "yolov9"}}), SpecError);
  EXPECT_THROW(validate_overrides(nlohmann::json{{"engine", "tensorrt"}}), SpecError);
  EXPECT_THROW(validate_overrides(nlohmann::json{{"names_file", "../../etc/passwd"}}), SpecError);
  EXPECT_THROW(validate_overrides(nlohmann::json::array()), SpecError);
  try {
    validate_overrides(nlohmann::json{{"iou", -1}});
    FAIL();
  } catch (const SpecError& e) {
    EXPECT_EQ(e.key, "iou");
  }
  // Darknet is a format, not something an ONNX file can be told to be.
  EXPECT_THROW(make_spec(models() / "yolov8n", "yolov8n", nlohmann::json{{"family", "darknet"}}), SpecError);
  EXPECT_THROW(make_spec(models() / "yolov8n", "yolov8n", nlohmann::json{{"engine", "libtorch"}}), std::runtime_error);
}

TEST(ModelSpec, ReadsModelTomlAndOverridesWin) {
  fs::path dir = fs::path(::testing::TempDir()) / "spec-toml" / "m";
  fs::create_directories(dir);
  fs::remove(dir / "yolox_nano.onnx");
  fs::create_symlink(models() / "yolox-nano" / "yolox_nano.onnx", dir / "yolox_nano.onnx");
  std::ofstream(dir / "model.toml") << "family = \"yolox\"\nconfidence = 0.4\niou = 0.65\n";
  std::ofstream(dir / "labels.txt") << "a\nb\n";
  auto s = make_spec(dir, "m", nlohmann::json{{"iou", 0.5}, {"names_file", "labels.txt"}});
  EXPECT_EQ(s.family, "yolox");
  EXPECT_FLOAT_EQ(s.confidence, 0.4f);
  EXPECT_FLOAT_EQ(s.iou, 0.5f);
  EXPECT_EQ(read_names_file(s.names_file), (std::vector<std::string>{"a", "b"}));

  std::ofstream(dir / "model.toml") << "confidence = [1, 2]\n";
  EXPECT_THROW(make_spec(dir, "m", nullptr), SpecError);
  std::ofstream(dir / "model.toml") << "this is not toml = = =\n";
  EXPECT_THROW(make_spec(dir, "m", nullptr), SpecError);
  fs::remove(dir / "model.toml");
  EXPECT_THROW(make_spec(dir, "m", nlohmann::json{{"names_file", "missing.txt"}}), SpecError);
}

TEST(ModelSpec, ModelNamesAreFolderNames) {
  EXPECT_TRUE(valid_model_name("yolov8n-ts"));
  EXPECT_TRUE(valid_model_name("yolo-fastest-1.1"));
  EXPECT_FALSE(valid_model_name(""));
  EXPECT_FALSE(valid_model_name(".."));
  EXPECT_FALSE(valid_model_name("a/b"));
  EXPECT_FALSE(valid_model_name("a b"));
  EXPECT_FALSE(valid_model_name(std::string(200, 'a')));
}

TEST(ModelSpec, DarknetCfgSize) {
  auto [w, h] = darknet_input_size((models() / "yolo-fastest-1.1" / "yolo-fastest-1.1.cfg").string());
  EXPECT_EQ(w, 320);
  EXPECT_EQ(h, 320);
}

}  // namespace
}  // namespace osprey::inference
