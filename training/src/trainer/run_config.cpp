// The run file: strict JSON (unknown keys and wrong types are errors naming the key), paths
// relative to the run file's folder.
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "tm/registry.h"
#include "tm/trainer.h"

namespace terramind::training {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

class Reader {
 public:
  Reader(const json& object, std::string where, std::string what)
      : j_(object), where_(std::move(where)), what_(std::move(what)) {
    if (!j_.is_object())
      fail(where_.empty() ? "the run file must be a JSON object" : "must be an object");
  }
  ~Reader() noexcept(false) {
    if (std::uncaught_exceptions() > 0) return;
    for (const auto& [key, value] : j_.items())
      if (!used_.count(key)) {
        std::string known;
        for (const auto& k : used_) known += (known.empty() ? "" : ", ") + k;
        throw TrainingError(what_ + ": unknown key '" + path(key) + "' (known here: " + known +
                            ")");
      }
  }
  [[noreturn]] void fail(const std::string& message, const std::string& key = "") const {
    throw TrainingError(what_ + ": " + (key.empty() ? where_ : path(key)) +
                        (key.empty() && where_.empty() ? "" : " ") + message);
  }
  std::string path(const std::string& key) const {
    return where_.empty() ? key : where_ + "." + key;
  }
  const json* get(const std::string& key) {
    used_.insert(key);
    const auto it = j_.find(key);
    return it == j_.end() || it->is_null() ? nullptr : &*it;
  }
  const json& require(const std::string& key) {
    const json* v = get(key);
    if (!v) fail("is required", key);
    return *v;
  }
  template <typename T>
  void number(const std::string& key, T& out, double low, double high) {
    const json* v = get(key);
    if (!v) return;
    if (!v->is_number()) fail("must be a number, not " + v->dump(), key);
    const double d = v->get<double>();
    if (!(d >= low && d <= high))
      fail("must be in [" + fmt(low) + ", " + fmt(high) + "], got " + v->dump(), key);
    if (std::is_integral<T>::value && d != std::floor(d))
      fail("must be an integer, got " + v->dump(), key);
    out = static_cast<T>(d);
  }
  void text(const std::string& key, std::string& out, const std::set<std::string>& allowed = {}) {
    const json* v = get(key);
    if (!v) return;
    if (!v->is_string()) fail("must be a string, not " + v->dump(), key);
    out = v->get<std::string>();
    if (!allowed.empty() && !allowed.count(out)) {
      std::string list;
      for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
      fail("must be one of " + list + ", got '" + out + "'", key);
    }
  }
  void flag(const std::string& key, bool& out) {
    const json* v = get(key);
    if (!v) return;
    if (!v->is_boolean()) fail("must be true or false, not " + v->dump(), key);
    out = v->get<bool>();
  }
  static std::string fmt(double v) {
    std::ostringstream s;
    s << v;
    return s.str();
  }

 private:
  const json& j_;
  std::string where_, what_;
  std::set<std::string> used_;
};

std::string resolve(const std::string& base, const std::string& path) {
  if (path.empty() || fs::path(path).is_absolute() || base.empty()) return path;
  return (fs::path(base) / path).lexically_normal().string();
}

std::string read_text(const std::string& path, const std::string& what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw TrainingError(path + ": cannot read the " + what);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::map<std::string, double> alphas(const json& j, const std::string& where,
                                     const std::string& what) {
  if (!j.is_object()) throw TrainingError(what + ": " + where + " must map model keys to α");
  std::map<std::string, double> out;
  for (const auto& [key, value] : j.items()) {
    if (!value.is_number() || value.get<double>() < 0)
      throw TrainingError(what + ": " + where + "." + key + " must be a number >= 0");
    out[key] = value.get<double>();
  }
  return out;
}

// The sections every run file shares (TrainingSettings); paths relative to `base`.
void read_training_settings(Reader& top, TrainingSettings& c, const std::string& base,
                            const std::string& what) {
  if (const json* o = top.get("optimiser")) {
    Reader r(*o, "optimiser", what);
    r.number("lr", c.lr, 0, 10);
    r.number("min_lr", c.min_lr, 0, 10);
    r.number("weight_decay", c.weight_decay, 0, 10);
    r.number("beta1", c.beta1, 0, 0.999999);
    r.number("beta2", c.beta2, 0, 0.999999999);
    r.number("eps", c.eps, 0, 1);
    r.number("clip_grad", c.clip_grad, 0, 1e9);
  }
  if (const json* s = top.get("schedule")) {
    Reader r(*s, "schedule", what);
    r.number("steps", c.steps, 1, 1e15);
    r.number("warmup_steps", c.warmup_steps, 0, 1e15);
  }
  if (const json* b = top.get("batch")) {
    Reader r(*b, "batch", what);
    r.number("size", c.batch_size, 1, 1 << 20);
    r.number("accumulation", c.accumulation, 1, 1 << 16);
  }
  top.text("precision", c.precision, {"fp32", "bf16", "fp16"});
  if (const json* e = top.get("ema")) {
    if (!e->is_number() || !(e->get<double>() > 0 && e->get<double>() < 1))
      top.fail("must be a decay in (0, 1), e.g. 0.9999", "ema");
    c.ema = e->get<double>();
  }
  top.text("device", c.device);
  top.number("seed", c.seed, 0, 9.007199254740992e15);
  {
    const json& out = top.require("output");
    if (!out.is_string() || out.get<std::string>().empty())
      top.fail("must be a folder name", "output");
    c.output = resolve(base, out.get<std::string>());
  }
  if (const json* ck = top.get("checkpoints")) {
    Reader r(*ck, "checkpoints", what);
    r.number("every", c.checkpoint_every, 1, 1e15);
    r.number("keep", c.keep_checkpoints, 1, 1 << 20);
  }
  if (const json* lg = top.get("log")) {
    Reader r(*lg, "log", what);
    r.number("every", c.log_every, 1, 1e15);
  }
  if (const json* d = top.get("distributed")) {
    Reader r(*d, "distributed", what);
    r.number("bucket_mb", c.bucket_mb, 0.001, 1 << 16);
  }
  if (c.warmup_steps > c.steps) top.fail("must not exceed schedule.steps", "schedule.warmup_steps");
  if (c.min_lr > c.lr) top.fail("must not exceed optimiser.lr", "optimiser.min_lr");
}

}  // namespace

RunConfig RunConfig::from_json(const std::string& text, const std::string& what) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::parse_error& e) {
    throw TrainingError(what + ": not JSON: " + e.what());
  }
  RunConfig c;
  c.text = text;
  const std::string base = what == "run file" ? "" : fs::path(what).parent_path().string();
  Reader top(j, "", what);

  {
    Reader m(top.require("model"), "model", what);
    const json& card = m.require("card");
    try {
      if (card.is_string()) {
        const std::string path = resolve(base, card.get<std::string>());
        c.card = ModelCard::from_file(path);
      } else if (card.is_object()) {
        c.card = ModelCard::from_json(card.dump());
      } else {
        m.fail("must be a card file name or an inline card object", "card");
      }
    } catch (const std::invalid_argument& e) {
      throw TrainingError(what + ": model.card: " + e.what());
    }
    m.text("init", c.init);
    if (c.init != "random") c.init = resolve(base, c.init);
    if (c.card.decoder_modalities.empty())
      m.fail("has no decoder modalities: nothing to train", "card");
  }
  {
    Reader d(top.require("data"), "data", what);
    const json& shards = d.require("shards");
    if (!shards.is_string()) d.fail("must be a folder name", "shards");
    c.shards = resolve(base, shards.get<std::string>());
    d.text("split", c.split);
    d.text("val_split", c.val_split);
    d.number("shuffle_buffer", c.shuffle_buffer, 0, 1 << 20);
    const json& mods = d.require("modalities");
    if (!mods.is_object() || mods.empty())
      d.fail("must map modality names to {pixels, tokens}", "modalities");
    for (const auto& [name, use] : mods.items()) {
      Reader u(use, "data.modalities." + name, what);
      ModalityUse mu;
      const Modality* m = ModalityRegistry::instance().find(name);
      if (!m) u.fail("is not a modality the registry knows");
      mu.modality = m->name;
      mu.pixels = false;
      u.flag("pixels", mu.pixels);
      mu.tokens = !mu.pixels;  // a modality fed as pixels needs no tokens unless asked for
      u.flag("tokens", mu.tokens);
      if (mu.pixels && m->kind != ModalityKind::kPixel)
        u.fail("has no pixel input (it is tokens only)");
      if (!mu.pixels && !mu.tokens) u.fail("uses neither pixels nor tokens");
      if (!m->is_image()) u.fail("is a sequence modality: sequence training is not supported yet");
      c.modalities.push_back(mu);
    }
  }
  if (const json* b = top.get("budgets")) {
    Reader r(*b, "budgets", what);
    r.number("input_tokens", c.input_tokens, 1, 1 << 16);
    r.number("target_tokens", c.target_tokens, 1, 1 << 16);
    r.text("pixel_modality", c.pixel_modality);
    if (const json* mix = r.get("mixture")) {
      if (mix->is_string()) {
        if (mix->get<std::string>() != "4m")
          r.fail("must be \"4m\" or a list of components", "mixture");
      } else if (mix->is_array()) {
        int i = 0;
        for (const auto& comp : *mix) {
          const std::string where = "budgets.mixture[" + std::to_string(i++) + "]";
          Reader cr(comp, where, what);
          MixtureSpec s;
          cr.text("name", s.name);
          s.input_alpha = alphas(cr.require("input_alpha"), where + ".input_alpha", what);
          s.target_alpha = alphas(cr.require("target_alpha"), where + ".target_alpha", what);
          cr.number("weight", s.weight, 0, 1e9);
          c.mixture.push_back(s);
        }
      } else {
        r.fail("must be \"4m\" or a list of components", "mixture");
      }
    }
  }
  std::string loss = "mod";
  top.text("loss", loss, {"mod", "token"});
  c.loss = loss_reduction_from_string(loss);
  read_training_settings(top, c, base, what);
  if (const json* v = top.get("validation")) {
    Reader r(*v, "validation", what);
    r.number("every", c.val_every, 0, 1e15);
    r.number("batches", c.val_batches, 1, 1 << 20);
  }
  return c;
}

RunConfig RunConfig::from_file(const std::string& path) {
  RunConfig c = from_json(read_text(path, "run file"), path);
  c.source = path;
  return c;
}

TokenizerRunConfig TokenizerRunConfig::from_json(const std::string& text, const std::string& what) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::parse_error& e) {
    throw TrainingError(what + ": not JSON: " + e.what());
  }
  TokenizerRunConfig c;
  c.text = text;
  const std::string base = what == "run file" ? "" : fs::path(what).parent_path().string();
  Reader top(j, "", what);
  {
    Reader t(top.require("tokenizer"), "tokenizer", what);
    const json& card = t.require("card");
    try {
      if (card.is_string())
        c.card = TokenizerCard::from_file(resolve(base, card.get<std::string>()));
      else if (card.is_object())
        c.card = TokenizerCard::from_json(card.dump());
      else
        t.fail("must be a tokenizer card file name or an inline card object", "card");
    } catch (const std::invalid_argument& e) {
      throw TrainingError(what + ": tokenizer.card: " + e.what());
    }
    t.text("init", c.init);
    if (c.init != "random") c.init = resolve(base, c.init);
  }
  {
    Reader d(top.require("data"), "data", what);
    const json& shards = d.require("shards");
    if (!shards.is_string()) d.fail("must be a folder name", "shards");
    c.shards = resolve(base, shards.get<std::string>());
    d.text("split", c.split);
    d.number("shuffle_buffer", c.shuffle_buffer, 0, 1 << 20);
    d.flag("flips", c.flips);
  }
  read_training_settings(top, c, base, what);
  if (c.precision == "fp16")
    top.fail("fp16 is not offered for tokenizers (use bf16, as the reference does for LULC)",
             "precision");
  return c;
}

TokenizerRunConfig TokenizerRunConfig::from_file(const std::string& path) {
  TokenizerRunConfig c = from_json(read_text(path, "run file"), path);
  c.source = path;
  return c;
}

double warmup_cosine(double lr, double min_lr, std::int64_t warmup, std::int64_t steps,
                     std::int64_t step) {
  if (warmup > 0 && step < warmup) return lr * double(step + 1) / double(warmup);
  const double span = double(std::max<std::int64_t>(1, steps - warmup));
  const double progress = std::min(1.0, double(step - warmup) / span);
  return min_lr + 0.5 * (lr - min_lr) * (1 + std::cos(M_PI * progress));
}

double learning_rate(const TrainingSettings& c, std::int64_t step) {
  return warmup_cosine(c.lr, c.min_lr, c.warmup_steps, c.steps, step);
}

}  // namespace terramind::training
