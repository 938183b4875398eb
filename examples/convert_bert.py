# examples/convert_bert.py: the usual script (transformers 4.x), nothing in it knows ckptio
import sys

import torch
from transformers import BertConfig, BertForPreTraining, load_tf_weights_in_bert

config = BertConfig.from_json_file(sys.argv[2])
model = load_tf_weights_in_bert(BertForPreTraining(config), config, sys.argv[1])
torch.save(model.state_dict(), sys.argv[3])
