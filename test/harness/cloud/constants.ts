/** The account and region of the local cloud: the fakes and the synthesized stack agree on them. */
export const LOCAL_ACCOUNT = '123456789012';
export const LOCAL_REGION = 'us-east-1';
export const LOCAL_PARTITION = 'aws';
