// tm/model.h — the LibTorch part of libtm (public header of tm_model).
//
// Umbrella header: includes every part of tm_model's API. Code that needs only one part can
// include its header instead:
//   tm/checkpoint.h  checkpoint I/O (PyTorch zip checkpoints read without Python, safetensors
//                    read/write, strict key matching)
//   tm/cards.h       model and tokenizer cards (JSON, or inferred from checkpoints)
//   tm/network.h     the TerraMind model: feature extraction and any-to-any generation
//   tm/tokenizer.h   the FSQ quantizer, image tokenizers and the DDIM schedule
//   tm/text.h        the WordPiece tokenizer of captions and coordinates
//   tm/pretraining.h the training-time forward (masked token prediction, trainable weights)
#pragma once

#include "tm/cards.h"
#include "tm/checkpoint.h"
#include "tm/network.h"
#include "tm/pretraining.h"
#include "tm/text.h"
#include "tm/tokenizer.h"
