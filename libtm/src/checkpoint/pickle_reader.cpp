// Restricted pickle virtual machine for torch checkpoints; see pickle_reader.h.
#include "pickle_reader.h"

#include <cstdio>
#include <cstring>
#include <memory>
#include <unordered_map>
#include <vector>

#include "byte_order.h"

namespace terramind::checkpoint_detail {

namespace {

// Pickle opcodes (CPython Lib/pickletools.py names).
enum Opcode : unsigned char {
  kMark = '(',
  kStop = '.',
  kPop = '0',
  kPopMark = '1',
  kDup = '2',
  kBinFloat = 'G',
  kBinInt = 'J',
  kBinInt1 = 'K',
  kBinInt2 = 'M',
  kNone = 'N',
  kBinPersId = 'Q',
  kReduce = 'R',
  kBinString = 'T',
  kShortBinString = 'U',
  kBinUnicode = 'X',
  kAppend = 'a',
  kBuild = 'b',
  kGlobal = 'c',
  kAppends = 'e',
  kBinGet = 'h',
  kLongBinGet = 'j',
  kEmptyList = ']',
  kBinPut = 'q',
  kLongBinPut = 'r',
  kSetItem = 's',
  kTuple = 't',
  kSetItems = 'u',
  kEmptyDict = '}',
  kEmptyTuple = ')',
  kProto = 0x80,
  kTuple1 = 0x85,
  kTuple2 = 0x86,
  kTuple3 = 0x87,
  kNewTrue = 0x88,
  kNewFalse = 0x89,
  kLong1 = 0x8a,
  kLong4 = 0x8b,
  kShortBinUnicode = 0x8c,
  kBinUnicode8 = 0x8d,
  kStackGlobal = 0x93,
  kMemoize = 0x94,
  kFrame = 0x95,
};

// A malicious pickle could allocate many objects from few bytes; real data.pkl files need a few
// thousand.
constexpr std::size_t kMaxObjects = std::size_t{1} << 22;

enum class Kind {
  kNone,
  kBool,
  kInt,
  kFloat,
  kString,
  kTuple,
  kList,
  kDict,
  kGlobal,
  kStorage,
  kTensor
};

const char* kind_name(Kind kind) {
  switch (kind) {
    case Kind::kNone:
      return "None";
    case Kind::kBool:
      return "a bool";
    case Kind::kInt:
      return "an int";
    case Kind::kFloat:
      return "a float";
    case Kind::kString:
      return "a str";
    case Kind::kTuple:
      return "a tuple";
    case Kind::kList:
      return "a list";
    case Kind::kDict:
      return "a dict";
    case Kind::kGlobal:
      return "a global";
    case Kind::kStorage:
      return "a storage";
    case Kind::kTensor:
      return "a tensor";
  }
  return "?";
}

// The only globals a checkpoint may reference.
enum class Global { kOrderedDict, kRebuildTensorV2, kRebuildParameter, kStorageType };

struct AllowedGlobal {
  const char* name;
  Global global;
  at::ScalarType dtype;
};

constexpr AllowedGlobal kAllowedGlobals[] = {
    {"collections.OrderedDict", Global::kOrderedDict, at::kFloat},
    {"torch._utils._rebuild_tensor_v2", Global::kRebuildTensorV2, at::kFloat},
    {"torch._utils._rebuild_parameter", Global::kRebuildParameter, at::kFloat},
    {"torch.FloatStorage", Global::kStorageType, at::kFloat},
    {"torch.DoubleStorage", Global::kStorageType, at::kDouble},
    {"torch.HalfStorage", Global::kStorageType, at::kHalf},
    {"torch.BFloat16Storage", Global::kStorageType, at::kBFloat16},
    {"torch.LongStorage", Global::kStorageType, at::kLong},
    {"torch.IntStorage", Global::kStorageType, at::kInt},
    {"torch.ShortStorage", Global::kStorageType, at::kShort},
    {"torch.CharStorage", Global::kStorageType, at::kChar},
    {"torch.ByteStorage", Global::kStorageType, at::kByte},
    {"torch.BoolStorage", Global::kStorageType, at::kBool},
};

// One pickled value. Objects live in the unpickler's arena and refer to each other by plain
// pointers, so cyclic or deeply nested input cannot leak or overflow the stack on destruction.
struct Object {
  Kind kind = Kind::kNone;
  bool boolean = false;
  int64_t integer = 0;
  double real = 0;
  std::string text;                                  // str, or the qualified name of a global
  std::vector<Object*> items;                        // tuple, list
  std::vector<std::pair<Object*, Object*>> entries;  // dict, in insertion order
  std::unordered_map<std::string, std::size_t> entry_index;
  Global global = Global::kOrderedDict;
  at::ScalarType dtype = at::kFloat;  // storage type
  at::Tensor tensor;                  // storage (1-D) or tensor
};

CheckpointError pickle_error(const std::string& message) {
  return CheckpointError("data.pkl: " + message);
}

// Dict keys that compare like Python's for the types a checkpoint uses.
std::string dict_key(const Object* key) {
  switch (key->kind) {
    case Kind::kString:
      return "s" + key->text;
    case Kind::kInt:
      return "i" + std::to_string(key->integer);
    case Kind::kNone:
      return "n";
    default:
      throw pickle_error(std::string("unsupported dict key (") + kind_name(key->kind) + ")");
  }
}

int64_t int_value(const Object* object, const char* what) {
  if (object->kind != Kind::kInt)
    throw pickle_error(std::string(what) + " must be an int, got " + kind_name(object->kind));
  return object->integer;
}

std::vector<int64_t> int_sequence(const Object* object, const char* what) {
  if (object->kind != Kind::kTuple && object->kind != Kind::kList)
    throw pickle_error(std::string(what) + " must be a tuple, got " + kind_name(object->kind));
  std::vector<int64_t> values;
  for (const Object* item : object->items) values.push_back(int_value(item, what));
  return values;
}

// Views `storage` like torch.as_strided after checking that the view stays inside it.
at::Tensor view_storage(const at::Tensor& storage, int64_t offset, const std::vector<int64_t>& size,
                        const std::vector<int64_t>& stride) {
  if (size.size() != stride.size())
    throw pickle_error("tensor has " + std::to_string(size.size()) + " sizes but " +
                       std::to_string(stride.size()) + " strides");
  if (offset < 0) throw pickle_error("negative storage offset");
  bool empty = false;
  for (std::size_t d = 0; d < size.size(); ++d) {
    if (size[d] < 0 || stride[d] < 0) throw pickle_error("negative tensor size or stride");
    empty = empty || size[d] == 0;
  }
  const int64_t numel = storage.numel();
  if (empty) {
    if (offset > numel) throw pickle_error("storage offset beyond the storage");
  } else {
    int64_t last = offset;  // index of the last element the view touches
    for (std::size_t d = 0; d < size.size(); ++d) {
      int64_t step = 0;
      if (__builtin_mul_overflow(size[d] - 1, stride[d], &step) ||
          __builtin_add_overflow(last, step, &last))
        throw pickle_error("tensor extent overflows");
    }
    if (last >= numel)
      throw pickle_error("tensor view needs storage element " + std::to_string(last) +
                         " but the storage has " + std::to_string(numel) + " elements");
  }
  return storage.as_strided(size, stride, offset);
}

class Unpickler {
 public:
  Unpickler(const std::string& data, const StorageLoader& load_storage)
      : data_(reinterpret_cast<const unsigned char*>(data.data())),
        size_(data.size()),
        load_storage_(load_storage) {}

  const Object* run();

 private:
  // Input.
  const unsigned char* take(std::size_t count);
  uint64_t take_le(int count) { return read_le(take(static_cast<std::size_t>(count)), count); }
  std::string take_string(uint64_t length);
  std::string take_line();

  // Stack.
  Object* make(Kind kind);
  void push(Object* object) { stack_.push_back(object); }
  Object* pop();
  Object* top();
  std::vector<Object*> pop_to_mark();
  Object* make_tuple(std::vector<Object*> items);
  void memo_put(uint64_t index);
  void memo_get(uint64_t index);

  // Semantics.
  void set_items(Object* dict, const std::vector<Object*>& keys_and_values);
  Object* resolve_global(const std::string& module, const std::string& name);
  Object* call(Object* callable, Object* args);
  Object* rebuild_tensor(const std::vector<Object*>& args);
  Object* load_persistent(Object* pid);
  void build(Object* target, Object* state);

  const unsigned char* data_;
  std::size_t size_;
  std::size_t pos_ = 0;
  std::size_t opcode_pos_ = 0;
  const StorageLoader& load_storage_;
  std::vector<std::unique_ptr<Object>> arena_;
  std::vector<Object*> stack_;
  std::vector<std::size_t> marks_;
  std::unordered_map<uint64_t, Object*> memo_;
};

const unsigned char* Unpickler::take(std::size_t count) {
  if (count > size_ - pos_)
    throw pickle_error("truncated: opcode at offset " + std::to_string(opcode_pos_) + " needs " +
                       std::to_string(count) + " more bytes");
  const unsigned char* bytes = data_ + pos_;
  pos_ += count;
  return bytes;
}

std::string Unpickler::take_string(uint64_t length) {
  if (length > size_ - pos_)
    throw pickle_error("truncated string at offset " + std::to_string(opcode_pos_));
  const unsigned char* bytes = take(static_cast<std::size_t>(length));
  return std::string(reinterpret_cast<const char*>(bytes), static_cast<std::size_t>(length));
}

std::string Unpickler::take_line() {
  const void* newline = std::memchr(data_ + pos_, '\n', size_ - pos_);
  if (!newline) throw pickle_error("unterminated GLOBAL at offset " + std::to_string(opcode_pos_));
  std::size_t length = static_cast<const unsigned char*>(newline) - (data_ + pos_);
  std::string line = take_string(length);
  pos_ += 1;  // the newline
  return line;
}

Object* Unpickler::make(Kind kind) {
  if (arena_.size() >= kMaxObjects) throw pickle_error("too many objects");
  arena_.push_back(std::make_unique<Object>());
  arena_.back()->kind = kind;
  return arena_.back().get();
}

Object* Unpickler::pop() {
  std::size_t floor = marks_.empty() ? 0 : marks_.back();
  if (stack_.size() <= floor)
    throw pickle_error("stack underflow at offset " + std::to_string(opcode_pos_));
  Object* object = stack_.back();
  stack_.pop_back();
  return object;
}

Object* Unpickler::top() {
  std::size_t floor = marks_.empty() ? 0 : marks_.back();
  if (stack_.size() <= floor)
    throw pickle_error("stack underflow at offset " + std::to_string(opcode_pos_));
  return stack_.back();
}

std::vector<Object*> Unpickler::pop_to_mark() {
  if (marks_.empty()) throw pickle_error("missing MARK at offset " + std::to_string(opcode_pos_));
  std::size_t mark = marks_.back();
  marks_.pop_back();
  std::vector<Object*> items(stack_.begin() + static_cast<std::ptrdiff_t>(mark), stack_.end());
  stack_.resize(mark);
  return items;
}

Object* Unpickler::make_tuple(std::vector<Object*> items) {
  Object* tuple = make(Kind::kTuple);
  tuple->items = std::move(items);
  return tuple;
}

void Unpickler::memo_put(uint64_t index) { memo_[index] = top(); }

void Unpickler::memo_get(uint64_t index) {
  auto it = memo_.find(index);
  if (it == memo_.end())
    throw pickle_error("memo entry " + std::to_string(index) + " not defined (offset " +
                       std::to_string(opcode_pos_) + ")");
  push(it->second);
}

void Unpickler::set_items(Object* dict, const std::vector<Object*>& keys_and_values) {
  if (dict->kind != Kind::kDict)
    throw pickle_error(std::string("SETITEM on ") + kind_name(dict->kind));
  if (keys_and_values.size() % 2)
    throw pickle_error("odd number of items for SETITEMS at offset " + std::to_string(opcode_pos_));
  for (std::size_t i = 0; i < keys_and_values.size(); i += 2) {
    std::string key = dict_key(keys_and_values[i]);
    auto found = dict->entry_index.find(key);
    if (found != dict->entry_index.end()) {
      dict->entries[found->second].second = keys_and_values[i + 1];
    } else {
      dict->entry_index.emplace(std::move(key), dict->entries.size());
      dict->entries.emplace_back(keys_and_values[i], keys_and_values[i + 1]);
    }
  }
}

Object* Unpickler::resolve_global(const std::string& module, const std::string& name) {
  const std::string qualified = module + "." + name;
  for (const auto& allowed : kAllowedGlobals) {
    if (qualified == allowed.name) {
      Object* global = make(Kind::kGlobal);
      global->text = qualified;
      global->global = allowed.global;
      global->dtype = allowed.dtype;
      return global;
    }
  }
  throw CheckpointError("refusing to load: checkpoint references " + qualified +
                        " (only tensors, storages and OrderedDict are allowed)");
}

Object* Unpickler::rebuild_tensor(const std::vector<Object*>& args) {
  // (storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
  if (args.size() != 6 && args.size() != 7)
    throw pickle_error("_rebuild_tensor_v2 expects 6 or 7 arguments, got " +
                       std::to_string(args.size()));
  if (args[0]->kind != Kind::kStorage)
    throw pickle_error(std::string("_rebuild_tensor_v2 expects a storage, got ") +
                       kind_name(args[0]->kind));
  Object* tensor = make(Kind::kTensor);
  tensor->tensor =
      view_storage(args[0]->tensor, int_value(args[1], "storage offset"),
                   int_sequence(args[2], "tensor size"), int_sequence(args[3], "tensor stride"));
  return tensor;
}

Object* Unpickler::call(Object* callable, Object* args) {
  if (callable->kind != Kind::kGlobal)
    throw pickle_error(std::string("REDUCE on ") + kind_name(callable->kind));
  if (args->kind != Kind::kTuple)
    throw pickle_error(std::string("REDUCE arguments must be a tuple, got ") +
                       kind_name(args->kind));
  switch (callable->global) {
    case Global::kOrderedDict:
      if (!args->items.empty()) throw pickle_error("OrderedDict called with arguments");
      return make(Kind::kDict);
    case Global::kRebuildTensorV2:
      return rebuild_tensor(args->items);
    case Global::kRebuildParameter:
      // (data, requires_grad, backward_hooks): a Parameter is its data for inference.
      if (args->items.size() != 3 || args->items[0]->kind != Kind::kTensor)
        throw pickle_error("unexpected _rebuild_parameter arguments");
      return args->items[0];
    case Global::kStorageType:
      break;
  }
  throw pickle_error("cannot call " + callable->text);
}

Object* Unpickler::load_persistent(Object* pid) {
  // ('storage', storage_type, key, location, numel)
  if (pid->kind != Kind::kTuple || pid->items.size() != 5 || pid->items[0]->kind != Kind::kString ||
      pid->items[0]->text != "storage")
    throw pickle_error("unsupported persistent id (expected a ('storage', ...) tuple)");
  const Object* type = pid->items[1];
  if (type->kind != Kind::kGlobal || type->global != Global::kStorageType)
    throw pickle_error("persistent id without a storage type");
  if (pid->items[2]->kind != Kind::kString) throw pickle_error("storage key must be a str");
  int64_t numel = int_value(pid->items[4], "storage size");
  if (numel < 0) throw pickle_error("negative storage size");
  Object* storage = make(Kind::kStorage);
  storage->dtype = type->dtype;
  storage->tensor = load_storage_(pid->items[2]->text, type->dtype, numel);
  return storage;
}

void Unpickler::build(Object* target, Object* state) {
  // torch.save sets OrderedDict attributes (state_dict()._metadata); they carry no weights.
  if (target->kind == Kind::kDict) return;
  throw pickle_error(std::string("BUILD on ") + kind_name(target->kind) + " (state " +
                     kind_name(state->kind) + ") is not supported");
}

const Object* Unpickler::run() {
  while (pos_ < size_) {
    opcode_pos_ = pos_;
    const unsigned char opcode = *take(1);
    switch (opcode) {
      case kProto:
        if (*take(1) > 5) throw pickle_error("unsupported pickle protocol");
        break;
      case kFrame:
        take(8);  // framing is a streaming hint only
        break;
      case kStop:
        if (stack_.size() != 1 || !marks_.empty())
          throw pickle_error("malformed pickle: " + std::to_string(stack_.size()) +
                             " objects on the stack at STOP");
        return stack_.back();
      case kMark:
        marks_.push_back(stack_.size());
        break;
      case kPop:
        pop();
        break;
      case kPopMark:
        pop_to_mark();
        break;
      case kDup:
        push(top());
        break;
      case kNone:
        push(make(Kind::kNone));
        break;
      case kNewTrue:
      case kNewFalse: {
        Object* value = make(Kind::kBool);
        value->boolean = opcode == kNewTrue;
        push(value);
        break;
      }
      case kBinInt1:
      case kBinInt2:
      case kBinInt: {
        Object* value = make(Kind::kInt);
        if (opcode == kBinInt1) value->integer = static_cast<int64_t>(take_le(1));
        if (opcode == kBinInt2) value->integer = static_cast<int64_t>(take_le(2));
        if (opcode == kBinInt) value->integer = static_cast<int32_t>(take_le(4));
        push(value);
        break;
      }
      case kLong1:
      case kLong4: {
        uint64_t length = take_le(opcode == kLong1 ? 1 : 4);
        if (length > 8) throw pickle_error("integer wider than 64 bits");
        uint64_t bits = length ? take_le(static_cast<int>(length)) : 0;
        Object* value = make(Kind::kInt);
        if (length > 0 && length < 8 && (bits >> (8 * length - 1)) & 1)
          bits |= ~uint64_t{0} << (8 * length);  // sign-extend two's complement
        value->integer = static_cast<int64_t>(bits);
        push(value);
        break;
      }
      case kBinFloat: {
        const unsigned char* bytes = take(8);
        uint64_t bits = 0;
        for (int i = 0; i < 8; ++i) bits = (bits << 8) | bytes[i];  // big-endian
        Object* value = make(Kind::kFloat);
        std::memcpy(&value->real, &bits, sizeof bits);
        push(value);
        break;
      }
      case kShortBinUnicode:
      case kShortBinString:
      case kBinUnicode:
      case kBinUnicode8:
      case kBinString: {
        uint64_t length = 0;
        if (opcode == kShortBinUnicode || opcode == kShortBinString) length = take_le(1);
        if (opcode == kBinUnicode) length = take_le(4);
        if (opcode == kBinUnicode8) length = take_le(8);
        if (opcode == kBinString) {
          int32_t signed_length = static_cast<int32_t>(take_le(4));
          if (signed_length < 0) throw pickle_error("negative string length");
          length = static_cast<uint64_t>(signed_length);
        }
        Object* value = make(Kind::kString);
        value->text = take_string(length);
        push(value);
        break;
      }
      case kEmptyTuple:
        push(make_tuple({}));
        break;
      case kTuple:
        push(make_tuple(pop_to_mark()));
        break;
      case kTuple1:
      case kTuple2:
      case kTuple3: {
        std::vector<Object*> items(opcode - kTuple1 + 1);
        for (auto it = items.rbegin(); it != items.rend(); ++it) *it = pop();
        push(make_tuple(std::move(items)));
        break;
      }
      case kEmptyList:
        push(make(Kind::kList));
        break;
      case kAppend: {
        Object* value = pop();
        Object* list = top();
        if (list->kind != Kind::kList) throw pickle_error("APPEND to a non-list");
        list->items.push_back(value);
        break;
      }
      case kAppends: {
        std::vector<Object*> values = pop_to_mark();
        Object* list = top();
        if (list->kind != Kind::kList) throw pickle_error("APPENDS to a non-list");
        list->items.insert(list->items.end(), values.begin(), values.end());
        break;
      }
      case kEmptyDict:
        push(make(Kind::kDict));
        break;
      case kSetItem: {
        Object* value = pop();
        Object* key = pop();
        set_items(top(), {key, value});
        break;
      }
      case kSetItems: {
        std::vector<Object*> keys_and_values = pop_to_mark();
        set_items(top(), keys_and_values);
        break;
      }
      case kBinPut:
        memo_put(take_le(1));
        break;
      case kLongBinPut:
        memo_put(take_le(4));
        break;
      case kMemoize:
        memo_put(memo_.size());
        break;
      case kBinGet:
        memo_get(take_le(1));
        break;
      case kLongBinGet:
        memo_get(take_le(4));
        break;
      case kGlobal: {
        std::string module = take_line();
        std::string name = take_line();
        push(resolve_global(module, name));
        break;
      }
      case kStackGlobal: {
        Object* name = pop();
        Object* module = pop();
        if (name->kind != Kind::kString || module->kind != Kind::kString)
          throw pickle_error("STACK_GLOBAL expects two strings");
        push(resolve_global(module->text, name->text));
        break;
      }
      case kReduce: {
        Object* args = pop();
        Object* callable = pop();
        push(call(callable, args));
        break;
      }
      case kBuild: {
        Object* state = pop();
        build(top(), state);
        break;
      }
      case kBinPersId:
        push(load_persistent(pop()));
        break;
      default: {
        char hex[8];
        std::snprintf(hex, sizeof hex, "0x%02x", opcode);
        throw pickle_error(std::string("unknown or unsupported pickle opcode ") + hex +
                           " at offset " + std::to_string(opcode_pos_));
      }
    }
  }
  throw pickle_error("truncated: no STOP opcode");
}

// The dict holding the tensors: the top level, or its "state_dict" / "model" entry.
const Object* tensor_dict(const Object* root) {
  auto all_tensors = [](const Object* dict) {
    for (const auto& entry : dict->entries)
      if (entry.first->kind != Kind::kString || entry.second->kind != Kind::kTensor) return false;
    return true;
  };
  if (root->kind != Kind::kDict)
    throw pickle_error(std::string("checkpoint holds ") + kind_name(root->kind) +
                       ", not a dict of tensors");
  if (all_tensors(root)) return root;
  for (const char* wrapper : {"state_dict", "model"}) {
    auto found = root->entry_index.find(std::string("s") + wrapper);
    if (found == root->entry_index.end()) continue;
    const Object* inner = root->entries[found->second].second;
    if (inner->kind == Kind::kDict && all_tensors(inner)) return inner;
  }
  for (const auto& [key, value] : root->entries) {
    if (key->kind != Kind::kString)
      throw pickle_error(std::string("checkpoint dict has a key that is ") + kind_name(key->kind));
    if (value->kind != Kind::kTensor)
      throw pickle_error("checkpoint is not a dict of tensors: '" + key->text + "' holds " +
                         kind_name(value->kind));
  }
  return root;  // unreachable: all_tensors(root) would have held
}

}  // namespace

TensorMap unpickle_tensors(const std::string& pickle, const StorageLoader& load_storage) {
  Unpickler unpickler(pickle, load_storage);
  const Object* dict = tensor_dict(unpickler.run());
  TensorMap tensors;
  for (const auto& [key, value] : dict->entries) tensors.insert(key->text, value->tensor);
  return tensors;
}

}  // namespace terramind::checkpoint_detail
