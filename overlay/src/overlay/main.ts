import { mount } from 'svelte';
import Overlay from './Overlay.svelte';
import { parseParams } from './params.ts';

mount(Overlay, { target: document.getElementById('app')!, props: { params: parseParams(location.search) } });
