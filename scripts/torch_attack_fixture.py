"""Shared by the attack fixture scripts (torch_apgd.py, torch_fab.py, torch_square.py): the small
ResNet18 of test/fixtures/torch-reference.json (the entry with attack results) and the fixture file
they write next to it."""
import datetime
import json
import sys

import torch

sys.path.insert(0, 'scripts')
from torch_reference import decode, encode, load_model, nchw_to_nhwc, nhwc_to_nchw  # noqa: E402


def attack_entry():
    """(entry, model, x NCHW, clean predictions) of the fixture's network with attack results."""
    fixture = json.load(open('test/fixtures/torch-reference.json'))
    entry = next(m for m in fixture['models'] if m.get('attacks'))
    model = load_model(entry)
    x = nhwc_to_nchw(decode(entry['input']))
    with torch.no_grad():
        y = model(x).argmax(1)
    return entry, model, x, y


def encoded_nhwc(t):
    """An NCHW batch as the fixtures store images: NHWC shape and base64 float32 data."""
    return {'shape': list(nchw_to_nhwc(t).shape), 'data': encode(nchw_to_nhwc(t))}


def write_fixture(path, script, entry, cases):
    """Writes {provenance, model, cases} to path."""
    out = {
        'provenance': {
            'script': f'{script} (model and input: test/fixtures/torch-reference.json, the entry with attacks)',
            'torch': torch.__version__, 'python': sys.version.split()[0], 'date': datetime.date.today().isoformat(),
        },
        'model': entry['id'],
        'cases': cases,
    }
    with open(path, 'w') as f:
        json.dump(out, f, indent=1)
